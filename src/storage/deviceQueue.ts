import type { QueueClient } from "@azure/storage-queue";
import { toQueueDelaySeconds } from "../worker/backoff.js";
import { encodeDeviceMessage, type DeviceMessage } from "./deviceMessage.js";

export interface DeviceMessageSender {
  send(message: DeviceMessage, delayMs?: number): Promise<void>;
}

/** Sends device messages, delayed by the queue's own visibility timeout rather than by anyone waiting. */
export class DeviceQueue implements DeviceMessageSender {
  constructor(private readonly queue: QueueClient) {}

  async send(message: DeviceMessage, delayMs = 0): Promise<void> {
    await this.queue.sendMessage(encodeDeviceMessage(message), {
      visibilityTimeout: toQueueDelaySeconds(delayMs),
      // Never expire: a message delayed for days must still be there when it falls due.
      messageTimeToLive: -1,
    });
  }
}
