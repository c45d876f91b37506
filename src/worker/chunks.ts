import { type ImportedDeviceIdentity } from "../graph/importedDevice.js";
import type { SubmitMessage } from "../storage/deviceMessage.js";
import type { SlotSend } from "../storage/slotSends.js";
import { DEVICE_ROW_PREFIX, deviceRowKey } from "../storage/importEntities.js";
import { sameSerialNumber } from "../model/hashRules.js";

/**
 * Chunks: the devices one import action carries (docs/ARCHITECTURE.md, "Chunks"). A chunk is a
 * run of consecutive device rows of one batch, so its leader reads it with one range query and
 * claims it in entity-group transactions. Decisions here are pure; the steps are in processChunk.ts.
 */
export interface ChunkRange {
  /** The leader's row key: the chunk's first row. */
  first: string;
  /** Rows from `first` on (some may belong to no attempt of this chunk: they are not claimed). */
  size: number;
}

/** The index in a device row key (`device-000042` → 42). */
export function deviceIndexOf(rowKey: string): number {
  const index = Number(rowKey.slice(DEVICE_ROW_PREFIX.length));
  if (!rowKey.startsWith(DEVICE_ROW_PREFIX) || !Number.isSafeInteger(index) || index < 0)
    throw new RangeError(`not a device row key: ${rowKey}`);
  return index;
}

/**
 * Groups device indices into chunks of at most `chunkSize`, each a run of consecutive indices
 * (a gap starts a new chunk, so a chunk's range holds no row it was not made for). Order kept.
 */
export function groupIntoChunks(indices: readonly number[], chunkSize: number): number[][] {
  if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new RangeError("chunkSize must be a positive integer");
  const chunks: number[][] = [];
  let current: number[] = [];
  for (const index of indices) {
    const last = current[current.length - 1];
    if (current.length > 0 && (current.length >= chunkSize || index !== last! + 1)) {
      chunks.push(current);
      current = [];
    }
    current.push(index);
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** The range a group of sorted indices spans; undefined for a chunk of one (a create). */
export function rangeOf(indices: readonly number[]): ChunkRange | undefined {
  if (indices.length < 2) return undefined;
  const first = indices[0]!;
  return { first: deviceRowKey(first), size: indices[indices.length - 1]! - first + 1 };
}

/**
 * A chunk Graph refused as a whole (400, 413) is tried again as two halves, each at its own slot,
 * so one bad device ends up alone with its own reason and the others go on. Halves by count of
 * the devices actually claimed, each a contiguous span of them, so the halves never overlap.
 */
export function splitInHalves(claimed: readonly number[]): [number[], number[]] {
  const sorted = [...claimed].sort((a, b) => a - b);
  const cut = Math.ceil(sorted.length / 2);
  return [sorted.slice(0, cut), sorted.slice(cut)];
}

/**
 * Matches the records of a 200 answer to the chunk's devices by serial number (trimmed,
 * case-insensitive), never by the echoed importId. Each record goes to at most one device; a
 * device left without one is found by serial number later, as after a 204.
 */
export function matchRecords<D extends { rowKey: string; serialNumber: string }>(
  devices: readonly D[],
  records: readonly ImportedDeviceIdentity[],
): Map<string, ImportedDeviceIdentity> {
  const unused = [...records];
  const matched = new Map<string, ImportedDeviceIdentity>();
  for (const device of devices) {
    const at = unused.findIndex((record) => !!record.id && sameSerialNumber(record.serialNumber, device.serialNumber));
    if (at < 0) continue;
    matched.set(device.rowKey, unused[at]!);
    unused.splice(at, 1);
  }
  return matched;
}

/**
 * The chunk's first follower, its **lookout**, comes this share of the followers' delay after the
 * slot (one budget window of the three): a leader whose receive an outage cut is hidden for the
 * host's visibility timeout, and the lookout sends its chunk again as soon as it is sure nothing
 * else held the leader (followerAlone); the other followers come later, as the safety net.
 */
export const LOOKOUT_SHARE = 1 / 3;

/**
 * The messages of one attempt of a chunk, one per device: the leader's visible at the chunk's
 * slot, the lookout's (the first follower) a third of `followerDelayMs` later, every other
 * device's `followerDelayMs` later (the safety net: it acts only if its device was left behind).
 * A chunk of one is a plain create attempt, without `chunk`.
 */
export function chunkSends(
  batchId: string,
  indices: readonly number[],
  attempt: number,
  slotAt: number,
  shiftAt: number,
  followerDelayMs: number,
): SlotSend[] {
  const sorted = [...indices].sort((a, b) => a - b);
  const chunk = rangeOf(sorted);
  return sorted.map((index, k) => {
    const message: SubmitMessage = {
      v: 1,
      kind: "submit",
      batchId,
      rowKey: deviceRowKey(index),
      attempt,
      slotAt,
      shiftAt,
      ...(chunk ? { chunk } : {}),
    };
    if (k === 0) return { message, slotAt };
    return { message, slotAt: slotAt + (k === 1 ? Math.round(followerDelayMs * LOOKOUT_SHARE) : followerDelayMs), hold: false };
  });
}
