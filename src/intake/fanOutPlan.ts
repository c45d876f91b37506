import { type SubmitMessage, chunkRole } from "../storage/deviceMessage.js";
import type { SlotSend } from "../storage/slotSends.js";
import { deviceRowKey } from "../storage/importEntities.js";
import { chunkSends } from "../worker/chunks.js";

/**
 * The fan-out of a batch (docs/ARCHITECTURE.md, "Intake"): how a durable batch's devices are cut
 * into a few fan-out messages, each a range of consecutive devices that one worker expands into
 * their device messages, and how a range is cut into the windows after which its progress is
 * recorded. Pure decisions; the steps are in fanOutBatch.ts.
 */
export interface FanOutRange {
  /** 0-based, in slot order: range r holds devices [from, to). */
  range: number;
  from: number;
  to: number;
}

/** Devices per range, in whole chunks (a chunk never spans two ranges), never less than one chunk. */
export function rangeSizeOf(devicesPerRange: number, chunkSize: number): number {
  if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new RangeError("chunkSize must be a positive integer");
  if (!Number.isInteger(devicesPerRange) || devicesPerRange < 1) throw new RangeError("devicesPerRange must be a positive integer");
  return Math.max(1, Math.round(devicesPerRange / chunkSize)) * chunkSize;
}

/**
 * Cuts devices 0..deviceCount-1 into consecutive ranges of rangeSizeOf(devicesPerRange, chunkSize)
 * devices (the last one shorter). Every range starts on a chunk boundary, so the chunks of a
 * range are the chunks intake would have made of the whole batch (chunks.ts, groupIntoChunks).
 */
export function splitIntoRanges(deviceCount: number, devicesPerRange: number, chunkSize: number): FanOutRange[] {
  if (!Number.isInteger(deviceCount) || deviceCount < 0) throw new RangeError("deviceCount must be a non-negative integer");
  const size = rangeSizeOf(devicesPerRange, chunkSize);
  const ranges: FanOutRange[] = [];
  for (let from = 0, range = 0; from < deviceCount; from += size, range++)
    ranges.push({ range, from, to: Math.min(deviceCount, from + size) });
  return ranges;
}

/** Write slots (chunks) a batch of deviceCount devices takes: one per chunk. */
export function slotCount(deviceCount: number, chunkSize: number): number {
  return Math.ceil(deviceCount / chunkSize);
}

/**
 * The windows of devices [from, to) a worker sends before recording its progress: about
 * `windowDevices` devices each, in whole chunks counted from `chunkBase` (the range's first
 * device, on a chunk boundary), so a chunk's leader and followers always go in one window.
 */
export function windowsOf(
  from: number,
  to: number,
  chunkBase: number,
  chunkSize: number,
  windowDevices: number,
): { from: number; to: number }[] {
  if ((from - chunkBase) % chunkSize !== 0) throw new RangeError("a window starts on a chunk boundary");
  const step = rangeSizeOf(windowDevices, chunkSize);
  const windows: { from: number; to: number }[] = [];
  for (let at = from; at < to; at += step) windows.push({ from: at, to: Math.min(to, at + step) });
  return windows;
}

/** A batch's write schedule: slot k is due at firstSlotAt + k × intervalMs, handed out at pause shift shiftMs. */
export interface FanOutSchedule {
  firstSlotAt: number;
  intervalMs: number;
  shiftMs: number;
  /** The device whose chunk has slot 0 of this schedule (0 for intake's; a rescheduled range's first unsent device). */
  firstDevice: number;
}

/** When the chunk that starts at device `index` is due under `schedule`. */
export function slotAtOf(schedule: FanOutSchedule, index: number, chunkSize: number): number {
  const k = Math.floor((index - schedule.firstDevice) / chunkSize);
  return Math.round(schedule.firstSlotAt + k * schedule.intervalMs);
}

/**
 * A schedule is stale when the next device to send is due before `now`: its message would come
 * after its slot (a fan-out redelivered after a crash, or one the sweeper sent again). Such a
 * range takes new slots for the rest of its devices instead of crowding them into the present.
 */
export function scheduleIsStale(schedule: FanOutSchedule | undefined, nextIndex: number, chunkSize: number, now: number): boolean {
  return !schedule || slotAtOf(schedule, nextIndex, chunkSize) < now;
}

/**
 * The messages of devices [from, to) (on chunk boundaries from schedule.firstDevice), each at
 * its chunk's slot: exactly what intake sent for them before the fan-out (submitBatch.ts,
 * enqueueDevices): one create per device at its own slot, or per chunk a leader at the slot and
 * the followers `followerDelayMs` later. Leaders first, in slot order.
 */
export function rangeSends(
  batchId: string,
  from: number,
  to: number,
  chunkSize: number,
  schedule: FanOutSchedule,
  followerDelayMs: number,
): SlotSend[] {
  const sends: SlotSend[] = [];
  for (let first = from; first < to; first += chunkSize) {
    const slotAt = slotAtOf(schedule, first, chunkSize);
    if (chunkSize === 1) {
      const message: SubmitMessage = {
        v: 1,
        kind: "submit",
        batchId,
        rowKey: deviceRowKey(first),
        attempt: 1,
        slotAt,
        shiftAt: schedule.shiftMs,
      };
      sends.push({ message, slotAt });
      continue;
    }
    const indices = Array.from({ length: Math.min(chunkSize, to - first) }, (_, k) => first + k);
    sends.push(...chunkSends(batchId, indices, 1, slotAt, schedule.shiftMs, followerDelayMs));
  }
  return sends.sort((a, b) => a.slotAt - b.slotAt);
}

/**
 * A range's sends in two parts: every chunk's leader (a create is its own leader), due at the
 * chunks' slots a write interval apart, and the followers, due 3 budget windows later. A worker
 * sends a range's leaders before any of its followers: sent window by window with the followers
 * between them, a leader would reach the queue after its slot and lose it.
 */
export function leadersAndFollowers(sends: readonly SlotSend[]): { leaders: SlotSend[]; followers: SlotSend[] } {
  const leaders: SlotSend[] = [];
  const followers: SlotSend[] = [];
  for (const send of sends) (chunkRole(send.message) === "follower" ? followers : leaders).push(send);
  return { leaders, followers };
}

/**
 * How long before its first slot a range's fan-out message becomes visible: a whole second of the
 * queue's delay, a poll of the idle fan-out queue (host.json maxPollingInterval, 500 ms), and
 * writing the range's first pages (two for a chunk of 100) with room to spare.
 */
export const FANOUT_EXPAND_LEAD_MS = 3_000;

/**
 * The longest a range's fan-out message is held back: well inside the 2 minutes after which the
 * sweeper takes over a range whose progress has not moved (sweepIntake.ts), so a held range is
 * never mistaken for a stalled one. A range due later starts early and its sends wait for their slots.
 */
export const FANOUT_MAX_DELAY_MS = 60_000;

/**
 * When a range's fan-out message should become visible: FANOUT_EXPAND_LEAD_MS before the range's
 * first slot, at most FANOUT_MAX_DELAY_MS from now. Ranges of a big batch are then expanded one
 * after another, as their slots come, rather than all at once: the workers hold one range's pages
 * at a time, and the storage account is not asked for ten ranges' rows in the batch's first seconds.
 */
export function fanOutDelayMs(firstSlotAt: number, now: number): number {
  return Math.min(FANOUT_MAX_DELAY_MS, Math.max(0, firstSlotAt - FANOUT_EXPAND_LEAD_MS - now));
}
