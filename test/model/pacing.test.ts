import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { toQueueDelaySeconds } from "../../src/model/backoff.js";
import {
  baseIntervalMs,
  currentInterval,
  dueAt,
  initialPacing,
  lateToleranceMs,
  MAX_WAIT_IN_FUNCTION_MS,
  MAX_WIDENING,
  MIN_VISIBLE_LEAD_MS,
  pacingBudget,
  queueDelayForSlot,
  reserveSlots,
  sendHoldMs,
  stalled,
  throttled,
  lateForOutage,
  catchUpMs,
  OUTAGE_RECOVERY_MS,
  RECHECK_LEAD_MS,
  recheckSlot,
} from "../../src/model/pacing.js";

const budget = pacingBudget(20_000, 100, 1);

describe("pacing", () => {
  it("spaces slots by the budget's interval: 100 writes per 20 s is one every 200 ms", () => {
    expect(budget.baseIntervalMs).toBe(200);
    expect(baseIntervalMs(20_000, 100, 0.97)).toBeCloseTo(206.19, 2);
    const first = reserveSlots(initialPacing(budget), budget, 1_000, 10);
    expect(first.firstSlotAt).toBe(1_000);
    expect(first.next.nextSlotAt).toBe(3_000);
    const second = reserveSlots(first.next, budget, 1_500, 1);
    expect(second.firstSlotAt).toBe(3_000);
  });

  it("tolerates half the lateness the headroom leaves room for: writes up to twice as late still fit the window", () => {
    expect(lateToleranceMs(20_000, 100, 0.97)).toBeCloseTo(206.19, 2);
    expect(lateToleranceMs(20_000, 100, 1)).toBe(0);
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 150, maxLength: 300 }), (lateness) => {
        const interval = baseIntervalMs(20_000, 100, 0.97);
        const limit = 2 * lateToleranceMs(20_000, 100, 0.97);
        const writes = lateness.map((l, k) => k * interval + l * limit).sort((a, b) => a - b);
        // Graph admits a write when at most 99 others are in the 20 s before it.
        for (let i = 99; i < writes.length; i++) expect(writes[i]! - writes[i - 99]!).toBeGreaterThanOrEqual(20_000 - 1e-6);
      }),
    );
  });

  it("never hands out more slots in any window than the budget allows, however reservations interleave", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2_000 }), fc.integer({ min: 1, max: 50 })), { minLength: 1, maxLength: 40 }),
        (requests) => {
          let state = initialPacing(budget);
          let now = 0;
          const slots: number[] = [];
          for (const [gap, count] of requests) {
            now += gap;
            const r = reserveSlots(state, budget, now, count);
            for (let k = 0; k < count; k++) slots.push(r.firstSlotAt + k * r.intervalMs);
            state = r.next;
          }
          slots.sort((a, b) => a - b);
          for (let i = 100; i < slots.length; i++) expect(slots[i]! - slots[i - 100]!).toBeGreaterThanOrEqual(20_000 - 1e-6);
        },
      ),
    );
  });

  it("pauses the tenant on 429, shifting slots already handed out by the pause, and widens the interval", () => {
    const handedOut = reserveSlots(initialPacing(budget), budget, 0, 50);
    const paused = throttled(handedOut.next, budget, 1_000, 5_000);
    expect(paused.pausedUntil).toBe(6_000);
    expect(paused.shiftMs).toBe(5_000);
    // A slot due at 2 s, handed out before the pause, is now due 5 s later.
    expect(dueAt(2_000, handedOut.shiftMs, paused.shiftMs)).toBe(7_000);
    expect(reserveSlots(paused, budget, 1_000, 1).firstSlotAt).toBeGreaterThanOrEqual(6_000);
    expect(currentInterval(paused, budget, 1_000)).toBe(250);
  });

  it("does not double-count overlapping pauses", () => {
    const once = throttled(initialPacing(budget), budget, 0, 5_000);
    const twice = throttled(once, budget, 1_000, 3_000);
    expect(twice.pausedUntil).toBe(5_000);
    expect(twice.shiftMs).toBe(5_000);
    const longer = throttled(once, budget, 1_000, 10_000);
    expect(longer.shiftMs).toBe(11_000);
  });

  it("widens once per pause: the writes in flight that meet the same 429 do not widen it again", () => {
    let state = initialPacing(budget);
    for (let i = 0; i < 20; i++) state = throttled(state, budget, i, 1_000);
    expect(currentInterval(state, budget, 20)).toBeCloseTo(250, 0);
    // A 429 after the pause is over is a new overshoot and widens again.
    state = throttled(state, budget, 1_500, 1_000);
    expect(state.intervalMs).toBeGreaterThan(250 * 1.2);
  });

  it("relaxes a widened interval back to the budget's as time passes without throttling, in proportion to the window", () => {
    let state = initialPacing(budget);
    for (let i = 0; i < 20; i++) state = throttled(state, budget, i * 2_000, 1_000);
    const widenedAt = 38_000;
    expect(currentInterval(state, budget, widenedAt)).toBe(200 * MAX_WIDENING);
    // Three windows later the extra has shrunk by e; a short window relaxes just as many windows later.
    expect(currentInterval(state, budget, widenedAt + 60_000)).toBeCloseTo(200 + 600 / Math.E, 5);
    expect(currentInterval(state, budget, widenedAt + 3_600_000)).toBeCloseTo(200, 5);
    const short = pacingBudget(4_000, 100, 1);
    let scaled = initialPacing(short);
    for (let i = 0; i < 20; i++) scaled = throttled(scaled, short, i * 400, 200);
    expect(currentInterval(scaled, short, 7_600 + 12_000)).toBeCloseTo(40 + 120 / Math.E, 5);
  });
});

describe("holding back a send for its message's lead", () => {
  /** When a message sent at `sentAt` for `slotAt` becomes visible, as the queue computes it (whole seconds). */
  const visibleAt = (slotAt: number, sentAt: number) => sentAt + 1000 * toQueueDelaySeconds(queueDelayForSlot(slotAt, sentAt));

  it("gives every message a second or more ahead a lead between MIN_VISIBLE_LEAD_MS and a second, with a hold no longer than MIN_VISIBLE_LEAD_MS", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 ** 12 }), fc.integer({ min: MAX_WAIT_IN_FUNCTION_MS, max: 600_000 }), (now, ahead) => {
        const slotAt = now + ahead;
        const hold = sendHoldMs(slotAt, now);
        expect(hold).toBeGreaterThanOrEqual(0);
        expect(hold).toBeLessThanOrEqual(MIN_VISIBLE_LEAD_MS);
        const lead = slotAt - visibleAt(slotAt, now + hold);
        expect(lead).toBeGreaterThanOrEqual(MIN_VISIBLE_LEAD_MS);
        expect(lead).toBeLessThan(MAX_WAIT_IN_FUNCTION_MS);
      }),
    );
  });

  it("holds only the sends that need it: a lead under MIN_VISIBLE_LEAD_MS is held, a longer one is not", () => {
    // 5,100 ms ahead: a 5 s delay leaves 100 ms; held 101 ms, a 4 s delay leaves 999 ms.
    expect(sendHoldMs(15_100, 10_000)).toBe(101);
    expect(sendHoldMs(15_600, 10_000)).toBe(0);
    // Under a second ahead the message is visible at once; holding would only shorten its lead.
    expect(sendHoldMs(10_200, 10_000)).toBe(0);
  });
});

describe("a stall: a write found late for its slot", () => {
  // Intune's budget with the headroom config uses: slots 206 ms apart, late tolerance 206 ms.
  const real = pacingBudget(20_000, 100, 0.97);
  const slots = reserveSlots(initialPacing(real), real, 0, 100);
  const slot = (k: number) => ({ slotAt: slots.firstSlotAt + k * slots.intervalMs, shiftAt: 0 });
  const outageEnd = slot(10).slotAt + 15_000;

  it("pauses the schedule from the missed slot until now, once, and the writes after it line up in order", () => {
    const after = stalled(slots.next, real, slot(10), outageEnd);
    expect(after.shiftMs).toBeCloseTo(15_000, 6);
    expect(after.pausedUntil).toBe(outageEnd);
    expect(after.nextSlotAt).toBeCloseTo(slots.next.nextSlotAt + 15_000, 6);
    expect(after.intervalMs).toBe(slots.next.intervalMs);
    // Slot 10 is due now, slot 11 an interval later: in their order, none late.
    expect(dueAt(slot(10).slotAt, 0, after.shiftMs)).toBeCloseTo(outageEnd, 6);
    expect(dueAt(slot(11).slotAt, 0, after.shiftMs) - outageEnd).toBeCloseTo(slots.intervalMs, 6);
  });

  it("pauses from the outage's start, not from a slot the write had already missed before storage went away", () => {
    // Slot 10's write was 5 s late already (a busy function) when storage went away for 3 s.
    const awayFrom = slot(10).slotAt + 5_000;
    const back = awayFrom + 3_000;
    const after = stalled(slots.next, real, slot(10), back, awayFrom);
    expect(after.shiftMs).toBeCloseTo(3_000, 6);
    expect(after.pausedUntil).toBe(back);
    // An outage that began before the slot was due pauses from the slot, as without it.
    expect(stalled(slots.next, real, slot(10), outageEnd, slot(10).slotAt - 1_000).shiftMs).toBeCloseTo(15_000, 6);
  });

  it("ends the pause when storage answered again: the moments after it are caught up, not added to every slot", () => {
    const awayFrom = slot(10).slotAt;
    const back = awayFrom + 3_000;
    // The write reaches its function 1.1 s after storage came back (a storage client sleeping out its retry delay).
    const after = stalled(slots.next, real, slot(10), back + 1_100, awayFrom, back);
    expect(after.shiftMs).toBeCloseTo(3_000, 6);
    expect(after.pausedUntil).toBe(back);
    // Without word of storage's return, the pause runs until the write came.
    expect(stalled(slots.next, real, slot(10), back + 1_100, awayFrom).shiftMs).toBeCloseTo(4_100, 6);
  });

  it("lets a write just after an outage be late by the time since storage came back, never more than the outage lasted", () => {
    expect(catchUpMs(10_000, undefined)).toBe(0);
    // Storage away from 5 s to 8 s; 1.1 s after it came back.
    expect(catchUpMs(9_100, { from: 5_000, to: 8_000 })).toBe(1_100);
    // A 200 ms blip: at most 200 ms of writes were held back, so at most that much is caught up.
    expect(catchUpMs(9_100, { from: 7_800, to: 8_000 })).toBe(200);
    // Long after the outage, lateness is an instance's own.
    expect(catchUpMs(8_000 + OUTAGE_RECOVERY_MS + 1, { from: 0, to: 8_000 })).toBe(0);
  });

  it("counts one outage once, whichever instance finds it with whichever slot", () => {
    const first = stalled(slots.next, real, slot(10), outageEnd);
    // Another instance with a stale copy of the schedule finds slot 11 late a moment later.
    expect(stalled(first, real, slot(11), outageEnd + 50)).toBe(first);
    expect(stalled(first, real, slot(10), outageEnd)).toBe(first);
  });

  it("adds nothing for a slot that comes back a little out of order inside a recorded pause", () => {
    const first = stalled(slots.next, real, slot(10), outageEnd);
    // Slot 5 is five intervals late even after the shift; only 100 ms passed since the pause was recorded.
    expect(stalled(first, real, slot(5), outageEnd + 100)).toBe(first);
  });

  it("adds nothing for a slot of the recorded pause whose message comes back long after it (held by a function the outage failed)", () => {
    const first = stalled(slots.next, real, slot(10), outageEnd);
    // Slot 8 was taken just before the outage; its function failed in it, and its message came back 30 s later.
    expect(stalled(first, real, slot(8), outageEnd + 30_000)).toBe(first);
  });

  it("blames an outage for a late write only while storage has just come back", () => {
    // Due at 10 s, storage away until 25 s.
    expect(lateForOutage(10_000, 26_000, 25_000)).toBe(true);
    expect(lateForOutage(10_000, 25_000 + OUTAGE_RECOVERY_MS, 25_000)).toBe(true);
    // Its message was held elsewhere (a receive whose answer the outage cut): minutes late.
    expect(lateForOutage(10_000, 310_000, 25_000)).toBe(false);
    // An outage over before the slot was due, or none.
    expect(lateForOutage(30_000, 31_000, 25_000)).toBe(false);
    expect(lateForOutage(10_000, 11_000, undefined)).toBe(false);
  });

  it("adds a second outage's length, not the first one's again", () => {
    const first = stalled(slots.next, real, slot(10), outageEnd);
    const secondEnd = outageEnd + 30_000;
    // Slot 20 was due 10 intervals after the first outage ended; storage went away again before it.
    const second = stalled(first, real, slot(20), secondEnd);
    const due20 = dueAt(slot(20).slotAt, 0, first.shiftMs);
    expect(second.shiftMs - first.shiftMs).toBeCloseTo(secondEnd - due20, 6);
    expect(dueAt(slot(20).slotAt, 0, second.shiftMs)).toBeCloseTo(secondEnd, 6);
  });

  it("leaves the schedule alone for a write late within the tolerance, or inside a 429's pause", () => {
    expect(stalled(slots.next, real, slot(10), slot(10).slotAt + real.lateToleranceMs - 1)).toBe(slots.next);
    const pausedBy429 = throttled(slots.next, real, slot(10).slotAt, 10_000);
    expect(stalled(pausedBy429, real, slot(10), slot(10).slotAt + 5_000)).toBe(pausedBy429);
  });

  it("never moves a slot earlier, and recording the same finding twice is the same as once", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 60_000 }), (k, lateMs) => {
        const now = slot(k).slotAt + lateMs;
        const once = stalled(slots.next, real, slot(k), now);
        expect(once.shiftMs).toBeGreaterThanOrEqual(slots.next.shiftMs);
        expect(once.nextSlotAt).toBeGreaterThanOrEqual(slots.next.nextSlotAt);
        expect(stalled(once, real, slot(k), now)).toEqual(once);
        // After it the slot is never more than the tolerance late.
        expect(now - dueAt(slot(k).slotAt, 0, once.shiftMs)).toBeLessThanOrEqual(real.lateToleranceMs + 1e-6);
      }),
    );
  });
});

describe("the second look at the schedule just before a waiting write", () => {
  const due = 100_000;
  it("goes at its time when no pause was recorded since the message's read", () => {
    expect(recheckSlot(due, 2_000, 2_000, due - RECHECK_LEAD_MS)).toEqual({ kind: "go" });
  });

  it("waits in the function for a slot a short pause moved, and gives back one a longer pause moved past the wait a function may do", () => {
    expect(recheckSlot(due, 2_000, 2_500, due - RECHECK_LEAD_MS)).toEqual({ kind: "wait", due: due + 500 });
    expect(recheckSlot(due, 2_000, 12_000, due - RECHECK_LEAD_MS)).toEqual({ kind: "moved", due: due + 10_000 });
  });

  it("moves a slot by the pause recorded since, never earlier, and keeps the schedule's order (fast-check)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 60_000 }),
        fc.integer({ min: 0, max: 60_000 }),
        fc.integer({ min: -30_000, max: 30_000 }),
        fc.integer({ min: 1, max: 5_000 }),
        (shiftAt, added, early, gap) => {
          const first = recheckSlot(due, shiftAt, shiftAt + added, due + early);
          const second = recheckSlot(due + gap, shiftAt, shiftAt + added, due + early);
          const at = (d: typeof first, slot: number) => (d.kind === "go" ? slot : d.due);
          expect(at(first, due)).toBe(due + added);
          expect(at(second, due + gap) - at(first, due)).toBe(gap);
        },
      ),
    );
  });
});
