import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  leadersAndFollowers,
  rangeSends,
  rangeSizeOf,
  scheduleIsStale,
  slotAtOf,
  slotCount,
  splitIntoRanges,
  windowsOf,
  type FanOutSchedule,
  fanOutDelayMs,
  FANOUT_EXPAND_LEAD_MS,
  FANOUT_MAX_DELAY_MS,
} from "../../src/intake/fanOutPlan.js";
import { chunkSends, groupIntoChunks } from "../../src/worker/chunks.js";
import { deviceRowKey } from "../../src/storage/importEntities.js";

const schedule: FanOutSchedule = { firstSlotAt: 1_000_000, intervalMs: 200, shiftMs: 7, firstDevice: 0 };

describe("splitIntoRanges", () => {
  it("cuts a batch into consecutive ranges of whole chunks, the last one shorter", () => {
    expect(splitIntoRanges(2_500, 1_000, 100)).toEqual([
      { range: 0, from: 0, to: 1_000 },
      { range: 1, from: 1_000, to: 2_000 },
      { range: 2, from: 2_000, to: 2_500 },
    ]);
    expect(splitIntoRanges(3, 1_000, 1)).toEqual([{ range: 0, from: 0, to: 3 }]);
    expect(splitIntoRanges(0, 1_000, 100)).toEqual([]);
  });

  it("rounds the range size to whole chunks, never below one chunk", () => {
    expect(rangeSizeOf(1_000, 1)).toBe(1_000);
    expect(rangeSizeOf(1_000, 300)).toBe(900);
    expect(rangeSizeOf(1_000, 400)).toBe(1_200);
    expect(rangeSizeOf(50, 100)).toBe(100);
    expect(() => rangeSizeOf(0, 100)).toThrow(RangeError);
    expect(() => rangeSizeOf(100, 0)).toThrow(RangeError);
  });

  it("covers every device exactly once, each range starting on a chunk boundary (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 20_000 }),
        fc.integer({ min: 1, max: 5_000 }),
        fc.integer({ min: 1, max: 500 }),
        (count, perRange, chunkSize) => {
          const ranges = splitIntoRanges(count, perRange, chunkSize);
          let next = 0;
          for (const [i, r] of ranges.entries()) {
            expect(r.range).toBe(i);
            expect(r.from).toBe(next);
            expect(r.from % chunkSize).toBe(0);
            expect(r.to).toBeGreaterThan(r.from);
            next = r.to;
          }
          expect(next).toBe(count);
        },
      ),
    );
  });
});

describe("windowsOf", () => {
  it("cuts a range into windows of whole chunks from the range's start", () => {
    expect(windowsOf(0, 450, 0, 100, 200)).toEqual([
      { from: 0, to: 200 },
      { from: 200, to: 400 },
      { from: 400, to: 450 },
    ]);
    // Resuming a range at its recorded progress.
    expect(windowsOf(1_200, 1_450, 1_000, 100, 200)).toEqual([
      { from: 1_200, to: 1_400 },
      { from: 1_400, to: 1_450 },
    ]);
    expect(windowsOf(5, 5, 0, 1, 200)).toEqual([]);
    expect(() => windowsOf(1_050, 2_000, 1_000, 100, 200)).toThrow(RangeError);
  });
});

describe("rangeSends", () => {
  it("gives the devices of a range the messages intake gave them before the fan-out: creates at their own slots", () => {
    const sends = rangeSends("b", 3, 6, 1, schedule, 60_000);
    expect(sends).toEqual(
      [3, 4, 5].map((i) => ({
        slotAt: 1_000_000 + i * 200,
        message: { v: 1, kind: "submit", batchId: "b", rowKey: deviceRowKey(i), attempt: 1, slotAt: 1_000_000 + i * 200, shiftAt: 7 },
      })),
    );
  });

  it("gives chunks a leader at the chunk's slot and followers later, as enqueueDevices does for the whole batch (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2_000 }),
        fc.integer({ min: 1, max: 500 }),
        fc.integer({ min: 1, max: 3_000 }),
        (count, chunkSize, perRange) => {
          // What intake sent for the whole batch before the fan-out (submitBatch.ts, enqueueDevices).
          const groups = groupIntoChunks(
            Array.from({ length: count }, (_, i) => i),
            chunkSize,
          );
          const whole = groups.flatMap((group, k) =>
            chunkSize === 1
              ? [
                  {
                    slotAt: Math.round(schedule.firstSlotAt + k * schedule.intervalMs),
                    message: {
                      v: 1 as const,
                      kind: "submit" as const,
                      batchId: "b",
                      rowKey: deviceRowKey(group[0]!),
                      attempt: 1,
                      slotAt: Math.round(schedule.firstSlotAt + k * schedule.intervalMs),
                      shiftAt: 7,
                    },
                  },
                ]
              : chunkSends("b", group, 1, Math.round(schedule.firstSlotAt + k * schedule.intervalMs), 7, 60_000),
          );
          const byRanges = splitIntoRanges(count, perRange, chunkSize).flatMap((r) =>
            windowsOf(r.from, r.to, r.from, chunkSize, 200).flatMap((w) => rangeSends("b", w.from, w.to, chunkSize, schedule, 60_000)),
          );
          const key = (s: { message: { rowKey: string }; slotAt: number }) => `${s.message.rowKey}@${s.slotAt}`;
          expect(byRanges.map(key).sort()).toEqual(whole.map(key).sort());
          expect(new Map(byRanges.map((s) => [s.message.rowKey, s]))).toEqual(new Map(whole.map((s) => [s.message.rowKey, s])));
        },
      ),
      { numRuns: 60 },
    );
  });

  it("sends a window's leaders before its followers, in slot order", () => {
    const sends = rangeSends("b", 0, 250, 100, schedule, 60_000);
    const slots = sends.map((s) => s.slotAt);
    expect(slots).toEqual([...slots].sort((a, b) => a - b));
    expect(sends.slice(0, 3).map((s) => s.message.rowKey)).toEqual([deviceRowKey(0), deviceRowKey(100), deviceRowKey(200)]);
    expect(sends.slice(0, 3).map((s) => s.message.chunk)).toEqual([
      { first: deviceRowKey(0), size: 100 },
      { first: deviceRowKey(100), size: 100 },
      { first: deviceRowKey(200), size: 50 },
    ]);
  });
});

describe("schedules", () => {
  it("counts one slot per chunk and finds a chunk's slot from the schedule's first device", () => {
    expect(slotCount(10_000, 100)).toBe(100);
    expect(slotCount(10_001, 100)).toBe(101);
    expect(slotAtOf(schedule, 0, 100)).toBe(1_000_000);
    expect(slotAtOf(schedule, 300, 100)).toBe(1_000_600);
    expect(slotAtOf({ ...schedule, firstDevice: 400 }, 600, 100)).toBe(1_000_400);
  });

  it("is stale when the next device to send is already due, or when there is none", () => {
    expect(scheduleIsStale(undefined, 0, 1, 0)).toBe(true);
    expect(scheduleIsStale(schedule, 0, 1, 999_999)).toBe(false);
    expect(scheduleIsStale(schedule, 0, 1, 1_000_001)).toBe(true);
    // Devices further on are due later: a range resumed at device 10 is still on time.
    expect(scheduleIsStale(schedule, 10, 1, 1_000_001)).toBe(false);
  });
});

describe("leadersAndFollowers", () => {
  it("puts every chunk's leader (and every create) before any follower, each send once", () => {
    const sends = rangeSends("b", 0, 1_000, 100, schedule, 60_000);
    const { leaders, followers } = leadersAndFollowers(sends);
    expect(leaders.map((s) => s.message.rowKey)).toEqual(Array.from({ length: 10 }, (_, k) => deviceRowKey(k * 100)));
    expect(leaders.map((s) => s.slotAt)).toEqual(Array.from({ length: 10 }, (_, k) => 1_000_000 + k * 200));
    expect(followers).toHaveLength(990);
    expect(followers.every((s) => s.hold === false && s.message.chunk && s.message.chunk.first !== s.message.rowKey)).toBe(true);
    expect(Math.min(...followers.map((s) => s.slotAt))).toBeGreaterThan(Math.max(...leaders.map((s) => s.slotAt)));
    // Creates are all leaders.
    expect(leadersAndFollowers(rangeSends("b", 0, 5, 1, schedule, 60_000))).toMatchObject({ followers: [] });
    expect(leadersAndFollowers(rangeSends("b", 0, 5, 1, schedule, 60_000)).leaders).toHaveLength(5);
  });
});

describe("fanOutDelayMs", () => {
  it("makes a range visible FANOUT_EXPAND_LEAD_MS before its first slot, never in the past, never more than FANOUT_MAX_DELAY_MS ahead", () => {
    const now = 1_000_000;
    expect(fanOutDelayMs(now + 1_500, now)).toBe(0);
    expect(fanOutDelayMs(now + FANOUT_EXPAND_LEAD_MS, now)).toBe(0);
    expect(fanOutDelayMs(now + 20_000, now)).toBe(20_000 - FANOUT_EXPAND_LEAD_MS);
    expect(fanOutDelayMs(now + 30 * 60_000, now)).toBe(FANOUT_MAX_DELAY_MS);
    // A batch of 10,000 in chunks of 100 at Intune's budget (a slot every 200 ms): range r is due 2 s after range r - 1.
    const schedule = { firstSlotAt: now + 1_500, intervalMs: 200, shiftMs: 0, firstDevice: 0 };
    const delays = splitIntoRanges(10_000, 1_000, 100).map((r) => fanOutDelayMs(slotAtOf(schedule, r.from, 100), now));
    expect(delays).toEqual([0, 500, 2_500, 4_500, 6_500, 8_500, 10_500, 12_500, 14_500, 16_500]);
  });
});
