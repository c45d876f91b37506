import { encodeDeviceMessage, chunkRole, type SubmitMessage } from "../storage/deviceMessage.js";
import type { DeviceMessageSender } from "../storage/deviceQueue.js";
import type { KeepForLater } from "../storage/drainQueue.js";
import type { QueueDelivery } from "../storage/queueText.js";
import type { StepOutcome, WorkerDeps } from "./createAttempt.js";
import { processDeviceMessage } from "./processDeviceMessage.js";

/**
 * A chunk follower's step as the follower drain runs it (functionDefinitions.ts, drainFollowers).
 * When the step would send this same follower back to its queue for later (a pause moved its
 * chunk's slot, or its leader took a later one: followerAlone), the drain keeps this message
 * instead, with the new text and delay: one update in place rather than a send and a delete,
 * which is what a storm or an outage cost every device whose chunk it moved (issue 14). Not once
 * the message has been received so often that one more receive would poison it: then it is sent
 * anew, which starts its count again.
 */
export async function processFollower(
  deps: WorkerDeps,
  message: SubmitMessage,
  delivery: QueueDelivery,
  maxDequeueCount: number,
): Promise<StepOutcome | KeepForLater> {
  let kept: { message: SubmitMessage; delayMs: number } | undefined;
  const inPlace = delivery.dequeueCount < maxDequeueCount - 1;
  const queue: DeviceMessageSender = {
    async send(next, delayMs = 0) {
      const same =
        next.kind === "submit" && chunkRole(next) === "follower" && next.batchId === message.batchId && next.rowKey === message.rowKey;
      if (inPlace && !kept && same && next.attempt === message.attempt) {
        kept = { message: next, delayMs };
        return;
      }
      await deps.queue.send(next, delayMs);
    },
  };
  const outcome = await processDeviceMessage({ ...deps, queue }, message, delivery);
  if (!kept) return outcome;
  if (outcome === "deferred") return { keepForLater: { text: encodeDeviceMessage(kept.message), delayMs: kept.delayMs } };
  // Any other outcome with this message sent again: send it after all, as the step meant.
  await deps.queue.send(kept.message, kept.delayMs);
  return outcome;
}
