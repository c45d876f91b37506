import { describe, expect, it } from "vitest";
import { dateHeaderReading, etagTime, ServiceClock } from "../../src/storage/serviceClock.js";

describe("etagTime", () => {
  it("reads the server time of a table entity's ETag, to the millisecond", () => {
    expect(etagTime(`W/"datetime'2026-12-07T03%3A04%3A13.0286532Z'"`)).toBe(Date.parse("2026-12-07T03:04:13.028Z"));
    expect(etagTime(`W/"datetime'2026-12-07T03%3A04%3A13Z'"`)).toBe(Date.parse("2026-12-07T03:04:13Z"));
  });
  it.each([undefined, "", `"0x8DC0A1B2C3D4E5F"`, `W/"datetime'not a time'"`, `W/"datetime'%E0%A4%A'"`])("is not a reading: %s", (etag) => {
    expect(etagTime(etag)).toBeUndefined();
  });
});

describe("ServiceClock", () => {
  const local = { at: 100_000 };
  const answer = (etagAt?: number, dateAt?: number) => ({
    method: "PATCH",
    status: 204,
    ...(etagAt === undefined ? {} : { etag: `W/"datetime'${encodeURIComponent(new Date(etagAt).toISOString())}'"` }),
    ...(dateAt === undefined ? {} : { date: new Date(dateAt).toUTCString() }),
  });

  it("keeps the service's time from the ETags of its writes, and the Date header only until a write is seen", () => {
    const clock = new ServiceClock(() => local.at);
    expect(clock.now()).toBe(100_000);
    // Date headers alone: the offset is known within a second.
    clock.observe(100_000, 100_004, { method: "GET", status: 200, date: new Date(98_500).toUTCString() });
    expect(Math.abs(clock.offsetMs - -1_500)).toBeLessThanOrEqual(1_000);
    // A write's ETag: the service wrote at 98,702 while this instance's clock read 100,200 to 100,204.
    clock.observe(100_200, 100_204, answer(98_702, 98_702));
    expect(clock.offsetMs).toBeCloseTo(-1_500, -1);
    expect(clock.now()).toBe(local.at + clock.offsetMs);
  });

  it("takes no reading from a read's ETag (the entity's last write, not now) or from a failed write", () => {
    const clock = new ServiceClock(() => local.at);
    clock.observe(100_000, 100_004, { method: "GET", status: 200, etag: answer(50_000).etag! });
    clock.observe(100_000, 100_004, { ...answer(50_000), status: 412 });
    expect(clock.offsetMs).toBe(0);
  });

  it("with PACING_CLOCK=local, is the instance's own clock", () => {
    const clock = new ServiceClock(() => local.at, false);
    clock.observe(100_000, 100_004, answer(50_000, 50_000));
    expect(clock.now()).toBe(100_000);
  });

  it("reads a Date header as the whole second it names", () => {
    expect(dateHeaderReading(1, 2, "Mon, 07 Dec 2026 03:04:13 GMT")).toEqual({
      sentAt: 1,
      receivedAt: 2,
      serviceFrom: Date.parse("2026-12-07T03:04:13Z"),
      serviceTo: Date.parse("2026-12-07T03:04:13Z") + 999,
    });
    expect(dateHeaderReading(1, 2, "yesterday")).toBeUndefined();
  });
});
