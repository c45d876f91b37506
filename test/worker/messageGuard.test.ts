import { describe, expect, it } from "vitest";
import { judgeMessage } from "../../src/worker/messageGuard.js";

const submit = (attempt: number) => ({ kind: "submit" as const, attempt });

describe("judgeMessage", () => {
  it("acts on the first attempt of a queued device", () => {
    expect(judgeMessage({ state: "queued", attempts: 0 }, submit(1), "m1")).toBe("fresh");
  });

  it("drops a second copy of an attempt another message already holds", () => {
    expect(judgeMessage({ state: "submitting", attempts: 1, claimedBy: "m1" }, submit(1), "m2")).toBe("stale");
  });

  it("lets the same message finish its attempt after its host died", () => {
    expect(judgeMessage({ state: "submitting", attempts: 1, claimedBy: "m1" }, submit(1), "m1")).toBe("resume");
    expect(judgeMessage({ state: "retrying", attempts: 1, claimedBy: "m1" }, submit(1), "m1")).toBe("resume");
    expect(judgeMessage({ state: "submitted", attempts: 1, claimedBy: "m1" }, submit(1), "m1")).toBe("resume");
  });

  it("acts on the next attempt of a retrying device and drops older ones", () => {
    expect(judgeMessage({ state: "retrying", attempts: 2, claimedBy: "m2" }, submit(3), "m3")).toBe("fresh");
    expect(judgeMessage({ state: "retrying", attempts: 2, claimedBy: "m2" }, submit(2), "m9")).toBe("stale");
  });

  it("never acts on a device in a final state", () => {
    for (const state of ["imported", "failed", "canceled"] as const) {
      expect(judgeMessage({ state, attempts: 1, claimedBy: "m1" }, submit(1), "m1")).toBe("stale");
      // Even a later attempt's message: a canceled device's queued message is dropped.
      expect(judgeMessage({ state, attempts: 0 }, submit(1), "m2")).toBe("stale");
    }
  });
});
