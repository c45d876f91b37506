/**
 * When a failed delivery is tried again: Standard Webhooks' recommended schedule after the first
 * attempt (5 minutes, 30 minutes, 2 hours, 5 hours, 10 hours, 10 hours), then give up. Each
 * delay is a queue visibility delay, so nothing waits inside a function; a queue message can be
 * delayed at most 7 days.
 */
export const DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS: readonly number[] = [
  5 * 60_000,
  30 * 60_000,
  2 * 3_600_000,
  5 * 3_600_000,
  10 * 3_600_000,
  10 * 3_600_000,
];
export const MAX_QUEUE_DELAY_MS = 7 * 24 * 3_600_000;

/** The delay before attempt `attemptsMade + 1`, or undefined when the schedule is spent. */
export function webhookRetryDelayMs(attemptsMade: number, schedule: readonly number[]): number | undefined {
  if (attemptsMade < 1) return 0;
  const delay = schedule[attemptsMade - 1];
  return delay === undefined ? undefined : Math.min(delay, MAX_QUEUE_DELAY_MS);
}

/** Attempts in all: the first, then one per entry of the schedule. */
export function maxAttempts(schedule: readonly number[]): number {
  return schedule.length + 1;
}

/** WEBHOOK_RETRY_SCHEDULE_MS: comma-separated milliseconds, each 0 < d ≤ 7 days. Throws naming the bad entry. */
export function parseRetrySchedule(setting: string | undefined): readonly number[] {
  if (setting === undefined || setting.trim() === "") return DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS;
  return setting.split(",").map((entry) => {
    const value = Number(entry.trim());
    if (!Number.isInteger(value) || value <= 0 || value > MAX_QUEUE_DELAY_MS) {
      throw new Error(`'${entry.trim()}' is not a delay in milliseconds between 1 and ${MAX_QUEUE_DELAY_MS}`);
    }
    return value;
  });
}

export type AttemptResult =
  | { kind: "response"; status: number }
  | { kind: "timeout" }
  | { kind: "connection-error"; message: string }
  | { kind: "refused"; reason: string };

export type AttemptDecision = { kind: "delivered" } | { kind: "retry"; delayMs: number } | { kind: "give-up"; reason: string };

/**
 * After attempt number `attempt`: 2xx is delivered; 410 Gone means the receiver wants no more;
 * an address the SSRF rule refuses will not become acceptable by waiting; anything else
 * (other statuses, redirects, timeouts, connection errors) is retried while the schedule lasts.
 */
export function decideAfterAttempt(attempt: number, result: AttemptResult, schedule: readonly number[]): AttemptDecision {
  if (result.kind === "response" && result.status >= 200 && result.status < 300) return { kind: "delivered" };
  if (result.kind === "response" && result.status === 410) return { kind: "give-up", reason: "the receiver answered 410 Gone" };
  if (result.kind === "refused") return { kind: "give-up", reason: result.reason };
  const delayMs = webhookRetryDelayMs(attempt, schedule);
  if (delayMs === undefined) return { kind: "give-up", reason: `no success after ${attempt} attempts` };
  return { kind: "retry", delayMs };
}
