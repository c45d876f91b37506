import { withLogContext, logContextOfMessage } from "./logContext.js";
import { recordQueueAge } from "./metrics.js";

/**
 * Runs a queue function for one message, as both hosts do: every log line of the work carries
 * the message's batch and device, and the message's lateness is measured. Only messages
 * scheduled to a write slot (`slotAt`) say when they were meant to run; the others are delayed
 * on purpose (poll rounds, sync) and have no lateness to measure.
 */
export function runQueueMessage<T>(payload: unknown, work: () => Promise<T>, now: number = Date.now()): Promise<T> {
  if (typeof payload === "object" && payload !== null) {
    const { kind, slotAt } = payload as Record<string, unknown>;
    if (typeof kind === "string" && /^[A-Za-z]{1,32}$/.test(kind) && typeof slotAt === "number" && Number.isFinite(slotAt))
      recordQueueAge(kind, now - slotAt);
  }
  return withLogContext(logContextOfMessage(payload), work);
}
