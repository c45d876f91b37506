import type { BatchIndex } from "../storage/batchIndex.js";
import type { DeviceMessageSender } from "../storage/deviceQueue.js";
import type { BatchEntity } from "../storage/importEntities.js";
import type { ImportStore } from "../storage/importStore.js";
import type { Logger } from "../telemetry/logging.js";
import { firstPoll } from "./pollBatch.js";

/**
 * How long a running batch's poll chain may be silent before it counts as lost: two of its longest
 * delays (FOLLOW_UP_MAX_DELAY_MS) and the 10 minutes a queue message stays hidden when the answer
 * to the receive that took it is lost (the Functions host's receive visibility). A live chain takes
 * a round well within that.
 */
export function pollStallMs(maxFollowUpDelayMs: number): number {
  return 2 * maxFollowUpDelayMs + 10 * 60_000;
}

/**
 * Whether a batch's poll chain has gone silent: it took a round once (a chain that never began is
 * the intake's and the sweeper's to start), and none for `stallMs`. Pure.
 */
export function pollChainStalled(
  batch: Pick<BatchEntity, "pollAttempt" | "polledAt" | "erasingAt">,
  now: number,
  stallMs: number,
): boolean {
  if (batch.erasingAt || batch.pollAttempt === undefined || !batch.polledAt) return false;
  return now - Date.parse(batch.polledAt) > stallMs;
}

export interface RestartPollsDeps {
  index: Pick<BatchIndex, "running">;
  store: Pick<ImportStore, "readBatch">;
  queue: DeviceMessageSender;
  log: Logger;
  now?: () => number;
  stallMs: number;
  /** Running batches looked at per run, at most. */
  take: number;
}

/**
 * The safety net of the poll chains. A batch's imports are followed by one chain of poll messages,
 * each sending the next; a message that failed comes back, and a poisoned one is restarted
 * (processPoisonMessage.ts). Nothing else would notice a chain whose message vanished, and its
 * batch would stay running for ever. This sends such a batch the round after the last one taken:
 * if the chain was only slow, its own message for that round finds it taken and is dropped
 * (decidePollRound), so there is still one chain.
 */
export async function restartStalledPolls(deps: RestartPollsDeps): Promise<number> {
  const now = deps.now?.() ?? Date.now();
  let restarted = 0;
  for (const entry of await deps.index.running(deps.take)) {
    const batch = await deps.store.readBatch(entry.batchId);
    if (!batch || !pollChainStalled(batch, now, deps.stallMs)) continue;
    await deps.queue.send({ ...firstPoll(entry.batchId), attempt: (batch.pollAttempt ?? 0) + 1 });
    deps.log.warn("poll chain silent; restarted", {
      batchId: entry.batchId,
      tenantId: batch.tenantId,
      attempt: (batch.pollAttempt ?? 0) + 1,
      delayMs: Math.round(now - Date.parse(batch.polledAt!)),
    });
    restarted++;
  }
  return restarted;
}
