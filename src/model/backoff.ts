export interface RetryPolicy {
  /** Graph attempts per device before it ends as failed: retries exhausted. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface FollowUpPolicy {
  firstDelayMs: number;
  maxDelayMs: number;
  /** A device whose import has not settled this long after its create ends as failed: import timed out. */
  settleTimeoutMs: number;
  /** followUntil profileAssigned: an imported device with no profile this long after its import is reported as imported without one. */
  profileTimeoutMs: number;
}

/**
 * Delay before create attempt `attempt + 1`, after attempt `attempt` failed transiently:
 * exponential, "equal jitter" (half fixed, half random, so retries spread out but never
 * collapse to zero), capped, and never sooner than the server's Retry-After.
 */
export function retryDelayMs(
  attempt: number,
  policy: Pick<RetryPolicy, "baseDelayMs" | "maxDelayMs">,
  retryAfterMs: number | undefined,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  const jittered = ceiling / 2 + (random() * ceiling) / 2;
  return Math.ceil(Math.max(jittered, retryAfterMs ?? 0));
}

/**
 * Delay before look number `poll` at a running import: starts at firstDelayMs and doubles up to
 * maxDelayMs, counted from the start of the round that sends it (`roundTookMs` ago), so rounds
 * come at that cadence however long each takes (2,000 devices moved take a few seconds), but
 * never sooner than half the delay after the last one ended. Retry-After is always honoured.
 */
export function followUpDelayMs(
  poll: number,
  policy: Pick<FollowUpPolicy, "firstDelayMs" | "maxDelayMs">,
  retryAfterMs?: number,
  roundTookMs = 0,
): number {
  const delay = Math.min(policy.maxDelayMs, policy.firstDelayMs * 2 ** Math.max(0, poll - 1));
  return Math.ceil(Math.max(delay - roundTookMs, delay / 2, retryAfterMs ?? 0));
}

/** Queue visibility delays are whole seconds and at most 7 days. */
export const MAX_QUEUE_DELAY_SECONDS = 7 * 24 * 3600;

export function toQueueDelaySeconds(delayMs: number): number {
  return Math.min(MAX_QUEUE_DELAY_SECONDS, Math.max(0, Math.ceil(delayMs / 1000)));
}
