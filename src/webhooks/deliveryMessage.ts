import type { QueueClient } from "@azure/storage-queue";
import { z } from "zod";
import { toQueueDelaySeconds } from "../model/backoff.js";

/**
 * One message of the webhook-deliveries queue = one delivery attempt of one event. `attempt`
 * numbers it; the batch header's notification record says which attempts were made, which is
 * what makes redelivered and duplicated messages harmless.
 */
export const deliveryMessageSchema = z.object({
  v: z.literal(1),
  kind: z.literal("deliverWebhook"),
  batchId: z.string().min(1),
  eventId: z.string().min(1),
  attempt: z.number().int().positive(),
});

export type DeliveryMessage = z.infer<typeof deliveryMessageSchema>;

export function decodeDeliveryMessage(payload: unknown): DeliveryMessage {
  let value = payload;
  if (typeof value === "string") {
    const text = value.trimStart().startsWith("{") ? value : Buffer.from(value, "base64").toString("utf8");
    value = JSON.parse(text);
  }
  return deliveryMessageSchema.parse(value);
}

export interface DeliveryMessageSender {
  send(message: DeliveryMessage, delayMs?: number): Promise<void>;
}

/** Sends delivery messages, base64 JSON as the Functions queue trigger expects, delayed by visibility. */
export class WebhookQueue implements DeliveryMessageSender {
  constructor(private readonly queue: QueueClient) {}

  async send(message: DeliveryMessage, delayMs = 0): Promise<void> {
    await this.queue.sendMessage(Buffer.from(JSON.stringify(message), "utf8").toString("base64"), {
      visibilityTimeout: toQueueDelaySeconds(delayMs),
      // Never expire: a retry delayed ten hours must still be there.
      messageTimeToLive: -1,
    });
  }
}
