import { describe, expect, it } from "vitest";
import { parseRetryAfterMs } from "../../src/graph/retryAfter.js";

describe("parseRetryAfterMs", () => {
  it("reads delay-seconds", () => expect(parseRetryAfterMs("17")).toBe(17_000));
  it("reads an HTTP date relative to now", () => {
    const now = Date.parse("2026-11-28T12:00:00Z");
    expect(parseRetryAfterMs("Sat, 28 Nov 2026 12:00:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfterMs("Sat, 28 Nov 2026 11:00:00 GMT", now)).toBe(0);
  });
  it("ignores what it cannot read", () => {
    expect(parseRetryAfterMs(undefined)).toBeUndefined();
    expect(parseRetryAfterMs("soon")).toBeUndefined();
    expect(parseRetryAfterMs("-3")).toBeUndefined();
  });
});
