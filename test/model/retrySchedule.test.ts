import { describe, expect, it } from "vitest";
import {
  decideAfterAttempt,
  DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS,
  maxAttempts,
  parseRetrySchedule,
  webhookRetryDelayMs,
} from "../../src/model/retrySchedule.js";

const H = 3_600_000;

describe("webhook retry schedule", () => {
  it("is Standard Webhooks' recommendation: 5 min, 30 min, 2 h, 5 h, 10 h, 10 h after the first attempt", () => {
    expect(DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS).toEqual([5 * 60_000, 30 * 60_000, 2 * H, 5 * H, 10 * H, 10 * H]);
    expect(maxAttempts(DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS)).toBe(7);
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => webhookRetryDelayMs(n, DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS))).toEqual([
      5 * 60_000,
      30 * 60_000,
      2 * H,
      5 * H,
      10 * H,
      10 * H,
      undefined,
    ]);
  });

  it("parses the setting and refuses bad entries", () => {
    expect(parseRetrySchedule("1000, 2000,3000")).toEqual([1000, 2000, 3000]);
    expect(parseRetrySchedule(undefined)).toBe(DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS);
    expect(parseRetrySchedule("")).toBe(DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS);
    expect(() => parseRetrySchedule("1000,abc")).toThrow(/abc/);
    expect(() => parseRetrySchedule("0")).toThrow();
    expect(() => parseRetrySchedule(String(8 * 24 * H))).toThrow();
  });
});

describe("decideAfterAttempt", () => {
  const schedule = [1000, 2000];
  it.each([
    [1, { kind: "response", status: 200 } as const, { kind: "delivered" }],
    [1, { kind: "response", status: 204 } as const, { kind: "delivered" }],
    [1, { kind: "response", status: 500 } as const, { kind: "retry", delayMs: 1000 }],
    [2, { kind: "response", status: 429 } as const, { kind: "retry", delayMs: 2000 }],
    [1, { kind: "response", status: 301 } as const, { kind: "retry", delayMs: 1000 }],
    [1, { kind: "timeout" } as const, { kind: "retry", delayMs: 1000 }],
    [1, { kind: "connection-error", message: "ECONNREFUSED" } as const, { kind: "retry", delayMs: 1000 }],
  ])("attempt %i answered %j → %j", (attempt, result, expected) => {
    expect(decideAfterAttempt(attempt, result, schedule)).toEqual(expected);
  });

  it("stops at 410 Gone, at a refused address, and when the schedule is spent", () => {
    expect(decideAfterAttempt(1, { kind: "response", status: 410 }, schedule).kind).toBe("give-up");
    expect(decideAfterAttempt(1, { kind: "refused", reason: "loopback" }, schedule).kind).toBe("give-up");
    expect(decideAfterAttempt(3, { kind: "response", status: 500 }, schedule)).toEqual({
      kind: "give-up",
      reason: "no success after 3 attempts",
    });
  });
});
