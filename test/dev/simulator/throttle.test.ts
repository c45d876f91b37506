import { describe, expect, it } from "vitest";
import { retryAfterSeconds, SlidingWindow, TenantAppThrottle } from "../../../src/dev/simulator/throttle.js";

const T0 = 1_000_000;

describe("SlidingWindow", () => {
  it("admits up to the limit within the window and forgets hits once they are windowMs old", () => {
    const w = new SlidingWindow(1_000, 3);
    w.record(T0, 3);
    expect(w.hasRoomFor(T0 + 999, 1)).toBe(false);
    // A hit at h is inside (t - windowMs, t] until t = h + windowMs.
    expect(w.hasRoomFor(T0 + 1_000, 1)).toBe(true);
    expect(w.count(T0 + 1_000)).toBe(0);
  });

  it("says how long until n more hits fit: the moment the hit that must go leaves the window", () => {
    const w = new SlidingWindow(1_000, 3);
    w.record(T0, 1);
    w.record(T0 + 100, 1);
    w.record(T0 + 200, 1);
    expect(w.waitMs(T0 + 300, 1)).toBe(700); // the T0 hit leaves at T0+1000
    expect(w.waitMs(T0 + 300, 2)).toBe(800); // the T0+100 hit too
    expect(w.waitMs(T0 + 300, 4)).toBe(Number.POSITIVE_INFINITY);
  });

  it("is not a fixed window: no burst of twice the limit across a boundary", () => {
    const w = new SlidingWindow(1_000, 2);
    w.record(T0 + 900, 2);
    expect(w.hasRoomFor(T0 + 1_100, 1)).toBe(false);
  });

  it("keeps its order when the clock steps back", () => {
    const w = new SlidingWindow(1_000, 5);
    w.record(T0 + 500, 1);
    w.record(T0, 1);
    expect(w.count(T0 + 1_499)).toBe(2);
    expect(w.count(T0 + 1_500)).toBe(0);
  });

  it("does not grow without bound over a long run", () => {
    const w = new SlidingWindow(10, 1_000);
    for (let i = 0; i < 100_000; i++) w.record(T0 + i, 1);
    expect(w.count(T0 + 100_000)).toBe(9);
    expect((w as unknown as { hits: number[] }).hits.length).toBeLessThan(5_000);
  });
});

describe("retryAfterSeconds", () => {
  it("rounds up to whole seconds, at least 1", () => {
    expect(retryAfterSeconds(0)).toBe(1);
    expect(retryAfterSeconds(1)).toBe(1);
    expect(retryAfterSeconds(1_000)).toBe(1);
    expect(retryAfterSeconds(1_001)).toBe(2);
    expect(retryAfterSeconds(19_999)).toBe(20);
  });
});

describe("TenantAppThrottle", () => {
  const limits = { windowMs: 20_000, perAppPerTenant: 100, perTenant: 200 };

  it("refuses the 101st write of one app within the window with the wait until it is admitted", () => {
    const t = new TenantAppThrottle(limits);
    for (let i = 0; i < 100; i++) expect(t.admit("t1", "app1", T0 + i).admitted).toBe(true);
    const refused = t.admit("t1", "app1", T0 + 500);
    expect(refused).toEqual({ admitted: false, scope: "app", retryAfterSeconds: 20 });
    // The hits from T0..T0+99 must leave; at T0+20000 only the T0 hit has.
    expect(t.admit("t1", "app1", T0 + 20_000).admitted).toBe(false);
  });

  it("lets a second app in the tenant through until the tenant's budget is spent", () => {
    const t = new TenantAppThrottle(limits);
    for (let i = 0; i < 100; i++) t.admit("t1", "app1", T0);
    expect(t.admit("t1", "app1", T0).admitted).toBe(false); // 101 tenant hits now
    let admitted = 0;
    let refusal;
    for (let i = 0; i < 100; i++) {
      const d = t.admit("t1", "app2", T0);
      if (d.admitted) admitted++;
      else refusal ??= d;
    }
    // Throttled attempts count too, so app2 gets 200 - 101 = 99.
    expect(admitted).toBe(99);
    expect(refusal).toEqual({ admitted: false, scope: "tenant", retryAfterSeconds: 20 });
  });

  it("keeps tenants apart", () => {
    const t = new TenantAppThrottle({ windowMs: 1_000, perAppPerTenant: 1, perTenant: 1 });
    expect(t.admit("t1", "app", T0).admitted).toBe(true);
    expect(t.admit("t2", "app", T0).admitted).toBe(true);
    expect(t.admit("t1", "app", T0).admitted).toBe(false);
  });

  it("counts requests made while throttled, so retrying early pushes the release out", () => {
    const t = new TenantAppThrottle({ windowMs: 10_000, perAppPerTenant: 2, perTenant: 100 });
    t.admit("t", "a", T0, 2);
    const first = t.admit("t", "a", T0 + 5_000);
    expect(first).toMatchObject({ admitted: false, retryAfterSeconds: 5 });
    // Retrying at the advertised time works only if the client did not retry meanwhile.
    const early = t.admit("t", "a", T0 + 9_000);
    expect(early).toMatchObject({ admitted: false, retryAfterSeconds: 6 }); // the T0+5000 attempt now blocks until T0+15000
    expect(t.admit("t", "a", T0 + 10_000).admitted).toBe(false);
    expect(t.admit("t", "a", T0 + 19_000).admitted).toBe(true);
  });

  it("charges an n-device import as n writes and refuses one that can never fit", () => {
    const t = new TenantAppThrottle({ windowMs: 1_000, perAppPerTenant: 5, perTenant: 10 });
    expect(t.admit("t", "a", T0, 3).admitted).toBe(true);
    expect(t.admit("t", "a", T0, 3)).toMatchObject({ admitted: false, scope: "app" });
    expect(t.fitsAtAll(5)).toBe(true);
    expect(t.fitsAtAll(6)).toBe(false);
    expect(() => t.admit("t", "a", T0, 6)).toThrow(RangeError);
  });
});
