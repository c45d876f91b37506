import { z } from "zod";
import { decodeQueuePayload } from "./queuePayload.js";

/** What every device message names: the row and the step (`attempt`). */
const head = {
  v: z.literal(1),
  batchId: z.string().min(1),
  rowKey: z.string().min(1),
  attempt: z.number().int().positive(),
};

/** The write slot a message was given (epoch ms), and the tenant's pause shift then (pacing.ts, dueAt). */
const slot = {
  slotAt: z.number().optional(),
  shiftAt: z.number().optional(),
};

const submitMessageSchema = z.object({
  ...head,
  kind: z.literal("submit"),
  ...slot,
  /** How many times this attempt arrived too late for its slot and was given a new one (pacing.ts, MAX_RESCHEDULES). */
  rescheduled: z.number().int().min(0).optional(),
  /**
   * Import mode: the chunk this device's attempt belongs to, the device rows from `first` (the
   * leader's row key) on, `size` rows. The leader's message (rowKey = first) claims and sends the
   * whole chunk as one import action at slotAt; every other device's message (a follower) comes
   * later and only acts if its device was left behind (docs/ARCHITECTURE.md, "Chunks").
   * Absent: a one-device attempt (a create).
   */
  chunk: z.object({ first: z.string().min(1), size: z.number().int().min(2).max(500) }).optional(),
});

const pollBatchMessageSchema = z.object({ ...head, kind: z.literal("pollBatch") });

/** Sent without a slot; one that came early goes back to the queue with the slot it took. */
const syncTenantMessageSchema = z.object({ ...head, kind: z.literal("syncTenant"), slotAt: z.number().optional() });

/** Graph ids of records this pipeline created, one write slot each, `intervalMs` apart from slotAt. */
const deleteRecordsMessageSchema = z.object({
  ...head,
  kind: z.literal("deleteRecords"),
  tenantId: z.string(),
  graphIds: z.array(z.string().max(64)).max(100),
  slotAt: z.number(),
  shiftAt: z.number(),
  intervalMs: z.number(),
});

const updateExistingMessageSchema = z.object({ ...head, kind: z.literal("updateExisting"), ...slot });

const deregisterMessageSchema = z.object({ ...head, kind: z.literal("deregister"), ...slot });

/**
 * One queue message = one step of one device (a create attempt), or one round of looking at a
 * batch's running imports (`pollBatch`, rowKey "batch"), or a tenant's Autopilot sync
 * (`syncTenant`: batchId is the tenant id, rowKey "sync"), or the update of a device's existing
 * Autopilot device (`updateExisting`, onExisting "update"; `attempt` numbers its tries), or the deregistration of one
 * device of a deregistration batch (`deregister`, src/deregistration). The message names the row and the step;
 * the device itself (hash, product key, UPN) stays in its table row, so no secret travels
 * through the queue and a message is a few hundred bytes, far below the 64 KB limit.
 *
 * `attempt` numbers the step: the n-th create attempt, or the n-th poll round of the batch.
 * A worker acts on a message only if the device row has not moved past that number, which is
 * what makes redelivered and duplicated messages harmless.
 *
 * Each kind carries only the fields its step reads. The JSON names and `v: 1` are those of the
 * one flat object this was before, and a field a kind requires is one its producer has always
 * sent, so messages already in a queue decode as they did.
 */
export const deviceMessageSchema = z.discriminatedUnion("kind", [
  submitMessageSchema,
  pollBatchMessageSchema,
  syncTenantMessageSchema,
  deleteRecordsMessageSchema,
  updateExistingMessageSchema,
  deregisterMessageSchema,
]);

export type DeviceMessage = z.infer<typeof deviceMessageSchema>;
export type DeviceMessageOf<K extends DeviceMessage["kind"]> = Extract<DeviceMessage, { kind: K }>;
export type SubmitMessage = DeviceMessageOf<"submit">;
export type ChunkRef = NonNullable<SubmitMessage["chunk"]>;

/** A submit message's part in its chunk: the leader sends the chunk, a follower is its safety net (docs/ARCHITECTURE.md, "Chunks"). */
export type ChunkRole = "single" | "leader" | "follower";

/** Takes any device message (every send is routed by it, deviceQueue.ts); only a submit message has a chunk. */
export function chunkRole(message: { rowKey: string; chunk?: ChunkRef }): ChunkRole {
  if (!message.chunk) return "single";
  return message.chunk.first === message.rowKey ? "leader" : "follower";
}

/** The Functions queue trigger expects base64 by default (host.json messageEncoding). */
export function encodeDeviceMessage(message: DeviceMessage): string {
  return Buffer.from(JSON.stringify(message), "utf8").toString("base64");
}

export class MalformedMessageError extends Error {
  constructor(reason: string) {
    super(`Malformed device message: ${reason}`);
    this.name = "MalformedMessageError";
  }
}

/**
 * Accepts what either host hands over: the Functions host gives the decoded JSON as an
 * object (or string), the development host gives the raw base64 text.
 */
export function decodeDeviceMessage(payload: unknown): DeviceMessage {
  return decodeQueuePayload(payload, deviceMessageSchema, (reason) => new MalformedMessageError(reason));
}

/** The follower queue is fed only by chunks' followers (deviceQueue.ts), which are submit messages. */
export function decodeSubmitMessage(payload: unknown): SubmitMessage {
  return decodeQueuePayload(payload, submitMessageSchema, (reason) => new MalformedMessageError(reason));
}
