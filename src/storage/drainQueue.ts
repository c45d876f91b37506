import type { QueueClient } from "@azure/storage-queue";
import type { Logger } from "../telemetry/logging.js";
import { decodePayload } from "./queueText.js";
import { errorMessage } from "../model/errorMessage.js";
import { toQueueDelaySeconds } from "../model/backoff.js";

/** One receive takes at most 32 messages (the service's limit); they are handled together. */
const RECEIVE_MAX = 32;

export interface DrainOptions {
  /** A run stops after this many messages; the next run goes on. */
  maxPerRun: number;
  /** How long a message being handled stays invisible to another run (longer than its handler may take). */
  visibilitySeconds: number;
  /**
   * Where a message goes once it was received this many times without its handler succeeding,
   * as the Functions host does with maxDequeueCount. Absent for a poison queue itself: its
   * messages stay until they are handled.
   */
  poison?: { queue: QueueClient; maxDequeueCount: number };
  /** A message received this often without success is reported at error level, not warn. */
  reportAfterDequeues: number;
}

/**
 * What a handler answers to keep its message for later instead of having it deleted: the
 * message's new text and how long until it is visible again. One update of the message in place,
 * where sending a new message and deleting this one would be two transactions.
 */
export interface KeepForLater {
  keepForLater: { text: string; delayMs: number };
}

function isKeepForLater(value: unknown): value is KeepForLater {
  return typeof value === "object" && value !== null && "keepForLater" in value;
}

/** The identity of a drained message, as a queue trigger would give it. */
export interface DrainedMessage {
  id: string;
  dequeueCount: number;
}

/**
 * Handles a queue's visible messages from a timer rather than a queue trigger. A trigger polls
 * its queue every maxPollingInterval (500 ms here) on every instance, and a queue that is empty
 * almost always (a poison queue, the webhook deliveries) then costs a receive every 500 ms per
 * instance for nothing: the bench measured 0.75 storage transactions per imported device for each
 * such queue. A timer costs one receive per run when there is nothing to do.
 *
 * A message is deleted once its handler succeeded, or updated in place when the handler keeps it
 * for later (KeepForLater). One whose handler throws stays invisible for
 * `visibilitySeconds` and is handled again on a later run, never dropped; with `poison`, one
 * received `maxDequeueCount` times moves there instead. Returns how many messages were handled.
 */
export async function drainQueue(
  queue: QueueClient,
  handle: (payload: unknown, message: DrainedMessage) => Promise<unknown>,
  log: Logger,
  options: DrainOptions,
): Promise<number> {
  let handled = 0;
  const handledThisRun = new Set<string>();
  while (handled < options.maxPerRun) {
    const { receivedMessageItems: received } = await queue.receiveMessages({
      numberOfMessages: Math.min(RECEIVE_MAX, options.maxPerRun - handled),
      visibilityTimeout: options.visibilitySeconds,
    });
    if (received.length === 0) break;
    // A message kept for later that came due while this run still goes: the next run takes it, so
    // a short keep never turns into a loop inside one run. Made visible again at once.
    const repeats = received.filter((m) => handledThisRun.has(m.messageId));
    await Promise.all(repeats.map((m) => queue.updateMessage(m.messageId, m.popReceipt, undefined, 0).catch(() => undefined)));
    const messages = received.filter((m) => !handledThisRun.has(m.messageId));
    for (const m of messages) handledThisRun.add(m.messageId);
    handled += messages.length;
    await Promise.all(
      messages.map(async (message) => {
        const poison = options.poison;
        if (poison && message.dequeueCount > poison.maxDequeueCount) {
          await moveToPoison(queue, poison.queue, message.messageText, message.messageId, message.popReceipt, log, message.dequeueCount);
          return;
        }
        // Every message of this app is written base64 (host.json messageEncoding), and a poison
        // message is the original's text.
        const payload = decodePayload(message.messageText, "base64");
        try {
          const result = await handle(payload, { id: message.messageId, dequeueCount: message.dequeueCount });
          if (isKeepForLater(result)) {
            const { text, delayMs } = result.keepForLater;
            await queue.updateMessage(message.messageId, message.popReceipt, text, toQueueDelaySeconds(delayMs));
          } else await queue.deleteMessage(message.messageId, message.popReceipt);
        } catch (error) {
          const level = message.dequeueCount >= options.reportAfterDequeues ? "error" : "warn";
          log[level]("queued message not handled; it is tried again on a later run", {
            messageId: message.messageId,
            attempt: message.dequeueCount,
            reason: errorMessage(error),
          });
          if (poison && message.dequeueCount >= poison.maxDequeueCount) {
            await moveToPoison(
              queue,
              poison.queue,
              message.messageText,
              message.messageId,
              message.popReceipt,
              log,
              message.dequeueCount,
            ).catch(() => undefined);
          }
        }
      }),
    );
    if (repeats.length > 0) break;
  }
  return handled;
}

async function moveToPoison(
  queue: QueueClient,
  poisonQueue: QueueClient,
  text: string,
  messageId: string,
  popReceipt: string,
  log: Logger,
  attempt: number,
): Promise<void> {
  // Sent before the original is deleted: a crash between the two leaves a copy, never nothing.
  await poisonQueue.sendMessage(text, { messageTimeToLive: -1 });
  await queue.deleteMessage(messageId, popReceipt);
  log.warn("message moved to poison queue", { messageId, attempt });
}
