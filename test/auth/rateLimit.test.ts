import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decideRate, type RatePolicy } from "../../src/auth/rateLimit.js";

/** Runs requests at the given times through the GCRA, keeping its state as the store would. */
function run(policy: RatePolicy, times: number[]) {
  let tat: number | undefined;
  return times.map((now) => {
    const decision = decideRate(policy, tat, now);
    if (decision.allowed) tat = decision.tat;
    return decision;
  });
}

describe("intake rate limit (GCRA)", () => {
  const policy = { perMinute: 60, burst: 5 };

  it("lets a burst through at once, then refuses with the wait until the next request may come", () => {
    const decisions = run(policy, Array(7).fill(0));
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, true, true, false, false]);
    expect(decisions[5]).toEqual({ allowed: false, retryAfterMs: 1_000 });
  });

  it("admits one more request per interval after the burst, and a waiting caller is admitted after Retry-After", () => {
    const decisions = run(policy, [0, 0, 0, 0, 0, 999, 1_000, 1_500, 2_000]);
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, true, true, false, true, false, true]);
    expect(decisions[7]).toEqual({ allowed: false, retryAfterMs: 500 });
  });

  it("is off at 0 per minute", () => {
    expect(run({ perMinute: 0, burst: 1 }, Array(100).fill(0)).every((d) => d.allowed)).toBe(true);
  });

  it("admits a request that is exactly on time even when the interval is not a whole number of ms", () => {
    // fast-check found this: 60 000 / 143 ms interval, burst 2, two requests at 512 ms
    const decisions = run({ perMinute: 143, burst: 2 }, [512, 512]);
    expect(decisions.map((d) => d.allowed)).toEqual([true, true]);
  });

  it("never admits more than burst + elapsed / interval requests, for any arrival pattern", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 600 }),
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.integer({ min: 0, max: 5_000 }), { minLength: 1, maxLength: 200 }),
        (perMinute, burst, gaps) => {
          const times = gaps.reduce<number[]>((acc, gap) => [...acc, (acc.at(-1) ?? 0) + gap], []);
          const decisions = run({ perMinute, burst }, times);
          const interval = 60_000 / perMinute;
          const admitted = decisions.filter((d) => d.allowed).length;
          expect(admitted).toBeLessThanOrEqual(burst + Math.floor((times.at(-1)! - times[0]!) / interval));
          // a refused request is told to wait a positive time
          for (const d of decisions) if (!d.allowed) expect(d.retryAfterMs).toBeGreaterThan(0);
        },
      ),
    );
  });
});
