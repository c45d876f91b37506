import type { DequeuedMessageItem, QueueClient } from "@azure/storage-queue";
import type { Logger } from "../../telemetry/logging.js";
import type { QueueHostSettings } from "./hostSettings.js";
import { logContextOfMessage } from "../../telemetry/logContext.js";
import { decodePayload, type QueueDelivery } from "../../storage/queueText.js";
import { errorMessage } from "../../model/errorMessage.js";

/**
 * The first wait after an empty poll, doubling up to maxPollingInterval: the Functions host's
 * own minimum (QueuePollingIntervals.Minimum in the WebJobs SDK). After a poll that found
 * messages it polls again at once, once no more than newBatchThreshold are running.
 */
const MIN_POLL_MS = 100;

export interface QueuePumpOptions {
  /** Deletes and releases messages, with the SDK's retries: a release lost in a blip leaves its message invisible for the function timeout. */
  queue: QueueClient;
  /** Receives: one try per poll (StorageClients.pollingQueueNamed), so the pump's own backoff decides when it looks again. */
  receiveQueue?: QueueClient;
  /** Where a message goes after maxDequeueCount failed deliveries: `<queue>-poison`. */
  poisonQueue: QueueClient;
  settings: QueueHostSettings;
  /** How long a received message stays invisible while its function runs (the host's function timeout). */
  processingTimeoutMs: number;
  handle(payload: unknown, delivery: QueueDelivery): Promise<void>;
  log: Logger;
}

/**
 * Drives one queue-triggered function the way the Functions host's queue listener does:
 * fetch up to batchSize messages, fetch more once no more than newBatchThreshold are still running,
 * delete a message when its function succeeds, make it visible again after visibilityTimeout
 * when it fails, move it to the poison queue after maxDequeueCount deliveries, and back off
 * polling exponentially up to maxPollingInterval while the queue is empty.
 */
export class QueuePump {
  private running = false;
  private readonly inFlight = new Set<Promise<void>>();
  private loopDone: Promise<void> = Promise.resolve();
  private wake: (() => void) | undefined;

  constructor(private readonly options: QueuePumpOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loopDone = this.loop();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loopDone;
    await Promise.allSettled([...this.inFlight]);
  }

  private async loop(): Promise<void> {
    const { settings } = this.options;
    let idleDelay = MIN_POLL_MS;
    while (this.running) {
      if (this.inFlight.size > settings.newBatchThreshold) {
        await Promise.race(this.inFlight);
        continue;
      }
      let messages: DequeuedMessageItem[] = [];
      try {
        const response = await (this.options.receiveQueue ?? this.options.queue).receiveMessages({
          numberOfMessages: settings.batchSize,
          visibilityTimeout: Math.ceil(this.options.processingTimeoutMs / 1000),
        });
        messages = response.receivedMessageItems;
      } catch (error) {
        this.options.log.warn("queue poll failed", { reason: errorMessage(error) });
      }
      if (messages.length === 0) {
        await this.pause(idleDelay);
        idleDelay = Math.min(idleDelay * 2, Math.max(MIN_POLL_MS, settings.maxPollingIntervalMs));
        continue;
      }
      idleDelay = MIN_POLL_MS;
      for (const message of messages) {
        const run = this.dispatch(message).finally(() => this.inFlight.delete(run));
        this.inFlight.add(run);
      }
    }
  }

  private async dispatch(message: DequeuedMessageItem): Promise<void> {
    const { settings, queue, log } = this.options;
    const delivery = { id: message.messageId, dequeueCount: message.dequeueCount };
    if (message.dequeueCount > settings.maxDequeueCount) {
      await this.moveToPoison(message);
      return;
    }
    const payload = decodePayload(message.messageText, settings.messageEncoding);
    const about = logContextOfMessage(payload);
    // The message stays invisible while its function runs, however long; each renewal gives it a new pop receipt.
    let popReceipt = message.popReceipt;
    const renewal = this.keepInvisible(
      message.messageId,
      () => popReceipt,
      (next) => (popReceipt = next),
      about,
    );
    let failure: { error: unknown } | undefined;
    try {
      await this.options.handle(payload, delivery);
    } catch (error) {
      failure = { error };
    }
    await renewal.stop();
    if (failure) {
      log.warn("queue function failed", {
        ...about,
        messageId: message.messageId,
        attempt: message.dequeueCount,
        reason: errorMessage(failure.error),
      });
      try {
        if (message.dequeueCount >= settings.maxDequeueCount) await this.moveToPoison({ ...message, popReceipt });
        else await queue.updateMessage(message.messageId, popReceipt, undefined, Math.ceil(settings.visibilityTimeoutMs / 1000));
      } catch (releaseError) {
        // The message reappears by itself when its processing visibility runs out.
        log.warn("could not release failed message", { ...about, messageId: message.messageId, reason: errorMessage(releaseError) });
      }
      return;
    }
    try {
      await queue.deleteMessage(message.messageId, popReceipt);
    } catch (error) {
      // At-least-once: the message comes back and the function must (and does) treat it as a duplicate.
      log.warn("could not delete processed message", { ...about, messageId: message.messageId, reason: errorMessage(error) });
    }
  }

  /**
   * Renews a running message's invisibility when it is halfway to expiring, as the Functions
   * host's queue listener does (azure-webjobs-sdk, QueueListener.CreateUpdateMessageVisibilityTimer
   * and UpdateQueueMessageVisibilityCommand). Without it a function that outlived its processing
   * visibility had its message delivered a second time while it still ran; when one delivery
   * finished first and deleted the message, the other could no longer release it on failure, and a
   * killed host lost it altogether: a fan-out range, or a batch's poll chain, stopped for good.
   * A renewal that fails leaves the message to come back by itself (one try: the pump's own client).
   */
  private keepInvisible(
    messageId: string,
    popReceipt: () => string,
    renewed: (next: string) => void,
    about: Record<string, unknown>,
  ): { stop(): Promise<void> } {
    const { processingTimeoutMs, log } = this.options;
    const queue = this.options.receiveQueue ?? this.options.queue;
    const seconds = Math.ceil(processingTimeoutMs / 1000);
    let stopped = false;
    let inFlight: Promise<void> = Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    const schedule = () => {
      timer = setTimeout(() => {
        inFlight = (async () => {
          try {
            const answer = await queue.updateMessage(messageId, popReceipt(), undefined, seconds);
            if (answer.popReceipt) renewed(answer.popReceipt);
          } catch (error) {
            log.warn("could not renew a running message's invisibility", { ...about, messageId, reason: errorMessage(error) });
          }
          if (!stopped) schedule();
        })();
      }, processingTimeoutMs / 2);
    };
    schedule();
    return {
      async stop() {
        stopped = true;
        clearTimeout(timer);
        await inFlight;
      },
    };
  }

  private async moveToPoison(message: DequeuedMessageItem): Promise<void> {
    await this.options.poisonQueue.sendMessage(message.messageText, { messageTimeToLive: -1 });
    await this.options.queue.deleteMessage(message.messageId, message.popReceipt);
    const about = logContextOfMessage(decodePayload(message.messageText, this.options.settings.messageEncoding));
    this.options.log.warn("message moved to poison queue", { ...about, messageId: message.messageId, attempt: message.dequeueCount });
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}
