import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { boundsOf, estimateOffset } from "../../src/model/clockOffset.js";

/** A request out at local `sentAt` for `rttMs`, answered by a service whose clock runs `offsetMs` ahead, reading whole seconds or exactly. */
function reading(offsetMs: number, sentAt: number, rttMs: number, answeredAfter: number, wholeSeconds: boolean) {
  const serviceAt = sentAt + answeredAfter * rttMs + offsetMs;
  const from = wholeSeconds ? Math.floor(serviceAt / 1000) * 1000 : serviceAt;
  return boundsOf({ sentAt, receivedAt: sentAt + rttMs, serviceFrom: from, serviceTo: wholeSeconds ? from + 999 : from });
}

describe("estimateOffset", () => {
  it("knows nothing without a reading", () => {
    expect(estimateOffset([])).toBeUndefined();
  });

  it("always keeps the true offset within its bounds, and narrows to the round trip with exact readings", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -5_000, max: 5_000 }),
        fc.array(
          fc.record({
            sentAt: fc.integer({ min: 0, max: 600_000 }),
            rtt: fc.integer({ min: 0, max: 50 }),
            after: fc.double({ min: 0, max: 1, noNaN: true }),
          }),
          {
            minLength: 1,
            maxLength: 40,
          },
        ),
        fc.boolean(),
        (offset, requests, wholeSeconds) => {
          const estimate = estimateOffset(requests.map((r) => reading(offset, r.sentAt, r.rtt, r.after, wholeSeconds)))!;
          expect(offset).toBeGreaterThanOrEqual(estimate.low - 1e-6);
          expect(offset).toBeLessThanOrEqual(estimate.high + 1e-6);
          expect(estimate.offsetMs).toBeGreaterThanOrEqual(estimate.low);
          expect(estimate.offsetMs).toBeLessThanOrEqual(estimate.high);
          if (!wholeSeconds) expect(estimate.high - estimate.low).toBeLessThanOrEqual(Math.min(...requests.map((r) => r.rtt)) + 1e-6);
        },
      ),
    );
  });

  it("closes a Date header's whole second to a few milliseconds over readings at different phases of the second", () => {
    const offset = -1_234;
    const requests = Array.from({ length: 40 }, (_, i) => reading(offset, 10_000 + i * 137, 4, 0.5, true));
    const estimate = estimateOffset(requests)!;
    expect(Math.abs(estimate.offsetMs - offset)).toBeLessThanOrEqual(estimate.high - estimate.low);
    expect(estimate.high - estimate.low).toBeLessThan(50);
  });

  it("corrects a clock only as far as the readings require: one that is right stays as it is", () => {
    // Whole-second Date readings of a service whose clock agrees with this one.
    const requests = Array.from({ length: 3 }, (_, i) => reading(0, 10_000 + i * 300, 4, 0.5, true));
    expect(estimateOffset(requests)!.offsetMs).toBe(0);
    // A clock 1.5 s behind: moved to the nearest offset the readings allow.
    const behind = estimateOffset([reading(1_500, 10_000, 4, 0.5, false)])!;
    expect(behind.offsetMs).toBe(behind.low);
    expect(Math.abs(behind.offsetMs - 1_500)).toBeLessThanOrEqual(4);
  });

  it("follows a clock that was set: older readings that disagree with the newer are dropped", () => {
    const before = Array.from({ length: 10 }, (_, i) => reading(0, i * 1_000, 5, 0.5, false));
    const after = Array.from({ length: 3 }, (_, i) => reading(2_000, 20_000 + i * 1_000, 5, 0.5, false));
    expect(estimateOffset([...before, ...after])!.offsetMs).toBeCloseTo(2_000, -1);
  });
});
