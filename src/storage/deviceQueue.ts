import type { QueueClient } from "@azure/storage-queue";
import { toQueueDelaySeconds } from "../model/backoff.js";
import { encodeDeviceMessage, type DeviceMessage, chunkRole } from "./deviceMessage.js";

export interface DeviceMessageSender {
  send(message: DeviceMessage, delayMs?: number): Promise<void>;
}

/**
 * Sends device messages, delayed by the queue's own visibility timeout rather than by anyone
 * waiting. A chunk's follower goes to `followers` when given (names.ts, FOLLOWER_QUEUE), every
 * other message to the device queue.
 */
export class DeviceQueue implements DeviceMessageSender {
  constructor(
    private readonly queue: QueueClient,
    private readonly followers?: QueueClient,
  ) {}

  async send(message: DeviceMessage, delayMs = 0): Promise<void> {
    const queue = this.followers && chunkRole(message) === "follower" ? this.followers : this.queue;
    await queue.sendMessage(encodeDeviceMessage(message), {
      visibilityTimeout: toQueueDelaySeconds(delayMs),
      // Never expire: a message delayed for days must still be there when it falls due.
      messageTimeToLive: -1,
    });
  }
}
