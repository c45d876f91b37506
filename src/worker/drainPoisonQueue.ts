import type { QueueClient } from "@azure/storage-queue";
import type { Logger } from "../logging.js";
import { decodePayload } from "../storage/queueText.js";

/** One receive takes at most 32 messages; a run stops after this many, the next run goes on. */
const RECEIVE_MAX = 32;
const MAX_PER_RUN = 32 * 20;
/** How long a message being handled stays invisible to another run. */
const HANDLING_VISIBILITY_SECONDS = 300;
/** A poison message this often handled without success is reported at error level on every run. */
const REPORT_AFTER_DEQUEUES = 5;

/**
 * Handles what reached a `<queue>-poison` queue, from a timer instead of a queue trigger. A
 * trigger polls its queue every maxPollingInterval (250 ms here) on every instance, and a poison
 * queue is empty almost always: the bench measured 0.75 storage transactions per imported device
 * for each of the two poison queues, 345,600 receives a day per instance for nothing. A timer
 * once a minute costs one receive when there is nothing to do; a poisoned device is marked failed
 * up to a minute later.
 *
 * A message is deleted once its handler succeeded. One whose handler throws (storage down) stays
 * and is handled again on a later run, never dropped: its devices must not stay in limbo.
 * Returns how many messages were handled.
 */
export async function drainPoisonQueue(
  queue: QueueClient,
  handle: (payload: unknown, dequeueCount: number) => Promise<unknown>,
  log: Logger,
): Promise<number> {
  let handled = 0;
  while (handled < MAX_PER_RUN) {
    const { receivedMessageItems: messages } = await queue.receiveMessages({ numberOfMessages: RECEIVE_MAX, visibilityTimeout: HANDLING_VISIBILITY_SECONDS });
    if (messages.length === 0) break;
    for (const message of messages) {
      handled++;
      // Every message of this app is written base64 (host.json messageEncoding), and a poison
      // message is the original's text.
      const payload = decodePayload(message.messageText, "base64");
      try {
        await handle(payload, message.dequeueCount);
        await queue.deleteMessage(message.messageId, message.popReceipt);
      } catch (error) {
        const level = message.dequeueCount >= REPORT_AFTER_DEQUEUES ? "error" : "warn";
        log[level]("poison message not handled; it is tried again on the next run", {
          messageId: message.messageId,
          attempt: message.dequeueCount,
          reason: (error as Error).message,
        });
      }
    }
  }
  return handled;
}
