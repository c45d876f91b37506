import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { followUpDelayMs, MAX_QUEUE_DELAY_SECONDS, retryDelayMs, toQueueDelaySeconds } from "../../src/model/backoff.js";

const policy = { baseDelayMs: 2_000, maxDelayMs: 60_000 };

describe("retryDelayMs", () => {
  it("grows exponentially with the attempt, jittered between half and all of the ceiling", () => {
    expect(retryDelayMs(1, policy, undefined, () => 0)).toBe(1_000);
    expect(retryDelayMs(1, policy, undefined, () => 1)).toBe(2_000);
    expect(retryDelayMs(3, policy, undefined, () => 0)).toBe(4_000);
    expect(retryDelayMs(3, policy, undefined, () => 1)).toBe(8_000);
  });

  it("is capped at maxDelayMs", () => {
    expect(retryDelayMs(30, policy, undefined, () => 1)).toBe(60_000);
  });

  it("never retries sooner than Retry-After, even when it exceeds the cap", () => {
    expect(retryDelayMs(1, policy, 30_000, () => 0)).toBe(30_000);
    expect(retryDelayMs(30, policy, 120_000, () => 1)).toBe(120_000);
  });

  it("always lies within [max(ceiling/2, retryAfter), max(ceiling, retryAfter)]", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.option(fc.integer({ min: 0, max: 600_000 }), { nil: undefined }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (attempt, retryAfter, r) => {
          const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
          const delay = retryDelayMs(attempt, policy, retryAfter, () => r);
          expect(delay).toBeGreaterThanOrEqual(Math.max(ceiling / 2, retryAfter ?? 0));
          expect(delay).toBeLessThanOrEqual(Math.ceil(Math.max(ceiling, retryAfter ?? 0)));
        },
      ),
    );
  });
});

describe("followUpDelayMs", () => {
  it("doubles from the first delay up to the maximum, and respects Retry-After", () => {
    const p = { firstDelayMs: 15_000, maxDelayMs: 300_000 };
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => followUpDelayMs(n, p))).toEqual([15_000, 30_000, 60_000, 120_000, 240_000, 300_000, 300_000]);
    expect(followUpDelayMs(1, p, 45_000)).toBe(45_000);
  });
  it("counts from the start of the round that sends it, never less than half the delay, and respects Retry-After", () => {
    const p = { firstDelayMs: 15_000, maxDelayMs: 300_000 };
    expect(followUpDelayMs(1, p, undefined, 4_000)).toBe(11_000);
    expect(followUpDelayMs(2, p, undefined, 4_000)).toBe(26_000);
    expect(followUpDelayMs(1, p, undefined, 60_000)).toBe(7_500);
    expect(followUpDelayMs(1, p, 20_000, 4_000)).toBe(20_000);
  });
});

describe("toQueueDelaySeconds", () => {
  it("rounds up to whole seconds and stays within the queue's 7-day limit", () => {
    expect(toQueueDelaySeconds(0)).toBe(0);
    expect(toQueueDelaySeconds(1)).toBe(1);
    expect(toQueueDelaySeconds(1_500)).toBe(2);
    expect(toQueueDelaySeconds(30 * 24 * 3600 * 1000)).toBe(MAX_QUEUE_DELAY_SECONDS);
  });
});
