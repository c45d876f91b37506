import { z } from "zod";
import { decodeQueuePayload } from "./queuePayload.js";

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
 */
export const deviceMessageSchema = z.object({
  v: z.literal(1),
  kind: z.enum(["submit", "pollBatch", "syncTenant", "deleteRecords", "updateExisting", "deregister"]),
  batchId: z.string().min(1),
  rowKey: z.string().min(1),
  attempt: z.number().int().positive(),
  /** The write slot this create attempt was given (epoch ms), and the tenant's pause shift then. */
  slotAt: z.number().optional(),
  shiftAt: z.number().optional(),
  /** How many times this attempt arrived too late for its slot and was given a new one (pacing.ts, MAX_RESCHEDULES). */
  rescheduled: z.number().int().min(0).optional(),
  /**
   * submit, import mode: the chunk this device's attempt belongs to, the device rows from `first`
   * (the leader's row key) on, `size` rows. The leader's message (rowKey = first) claims and
   * sends the whole chunk as one import action at slotAt; every other device's message (a
   * follower) comes later and only acts if its device was left behind (docs/ARCHITECTURE.md, "Chunks").
   * Absent: a one-device attempt (a create).
   */
  chunk: z.object({ first: z.string().min(1), size: z.number().int().min(2).max(500) }).optional(),
  /** deleteRecords: Graph ids of records this pipeline created, one write slot each, `intervalMs` apart from slotAt. */
  graphIds: z.array(z.string().max(64)).max(100).optional(),
  intervalMs: z.number().optional(),
  tenantId: z.string().optional(),
});

export type DeviceMessage = z.infer<typeof deviceMessageSchema>;

/** A submit message's part in its chunk: the leader sends the chunk, a follower is its safety net (docs/ARCHITECTURE.md, "Chunks"). */
export type ChunkRole = "single" | "leader" | "follower";

export function chunkRole(message: Pick<DeviceMessage, "rowKey" | "chunk">): ChunkRole {
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
