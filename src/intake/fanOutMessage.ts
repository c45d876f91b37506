import type { QueueClient } from "@azure/storage-queue";
import { z } from "zod";
import { decodeQueuePayload } from "../storage/queuePayload.js";

/**
 * One fan-out message (names.ts, FANOUT_QUEUE): range `range` of a batch, devices [from, to),
 * whose device messages a worker sends (fanOutBatch.ts). It names rows and slots, no secret.
 * `schedule`: the slots intake reserved for the batch (fanOutPlan.ts, FanOutSchedule); absent
 * (the sweeper's copy), the worker reserves new ones.
 */
export const fanOutMessageSchema = z.object({
  v: z.literal(1),
  kind: z.literal("fanOut"),
  batchId: z.string().min(1),
  tenantId: z.string().min(1),
  range: z.number().int().min(0),
  from: z.number().int().min(0),
  to: z.number().int().min(1),
  chunkSize: z.number().int().min(1).max(500),
  schedule: z
    .object({ firstSlotAt: z.number(), intervalMs: z.number().positive(), shiftMs: z.number(), firstDevice: z.number().int().min(0) })
    .optional(),
});

export type FanOutMessage = z.infer<typeof fanOutMessageSchema>;

export class MalformedFanOutError extends Error {
  constructor(reason: string) {
    super(`Malformed fan-out message: ${reason}`);
    this.name = "MalformedFanOutError";
  }
}

/** Accepts what either host hands over (an object, JSON text or base64 text), as decodeDeviceMessage does. */
export function decodeFanOutMessage(payload: unknown): FanOutMessage {
  return decodeQueuePayload(payload, fanOutMessageSchema, (reason) => new MalformedFanOutError(reason));
}

export interface FanOutSender {
  /** `delayMs`: when the message becomes visible (rounded up to the queue's whole seconds); at once without it. */
  send(message: FanOutMessage, delayMs?: number): Promise<void>;
}

/** Sends fan-out messages, base64 as the queue trigger expects (host.json messageEncoding). */
export class FanOutQueue implements FanOutSender {
  constructor(private readonly queue: QueueClient) {}

  async send(message: FanOutMessage, delayMs = 0): Promise<void> {
    await this.queue.sendMessage(Buffer.from(JSON.stringify(message), "utf8").toString("base64"), {
      messageTimeToLive: -1,
      ...(delayMs > 0 ? { visibilityTimeout: Math.ceil(delayMs / 1000) } : {}),
    });
  }
}
