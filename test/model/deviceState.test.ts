import { describe, expect, it } from "vitest";
import { assertTransition, canTransition, DEVICE_STATES, isFinal, settledCount } from "../../src/model/deviceState.js";

describe("device state machine", () => {
  it("has three final states; only a caller's retry leads out of one, from failed to retrying, and imported stays imported", () => {
    expect(DEVICE_STATES.filter(isFinal)).toEqual(["imported", "failed", "canceled"]);
    for (const to of DEVICE_STATES) {
      // imported → imported: following the device to its Autopilot profile (followUntil profileAssigned).
      expect(canTransition("imported", to)).toBe(to === "imported");
      expect(canTransition("canceled", to)).toBe(false);
      expect(canTransition("failed", to)).toBe(to === "retrying");
    }
  });

  it("can fail from every state that is not final", () => {
    for (const from of DEVICE_STATES.filter((s) => !isFinal(s))) expect(canTransition(from, "failed")).toBe(true);
  });

  it("cancels only devices Graph has not accepted", () => {
    expect(DEVICE_STATES.filter((from) => canTransition(from, "canceled"))).toEqual(["queued", "submitting", "retrying"]);
    expect(settledCount({ queued: 1, retrying: 1, submitted: 1, imported: 2, failed: 3, canceled: 4 })).toBe(9);
  });

  it("only reaches imported through a create Graph accepted", () => {
    expect(DEVICE_STATES.filter((from) => from !== "imported" && canTransition(from, "imported"))).toEqual(["submitting", "submitted"]);
  });

  it("refuses to go back to queued or to skip the claim, except for an attempt that gives its devices back unsent", () => {
    expect(() => assertTransition("submitted", "queued")).toThrow(/cannot go from submitted to queued/);
    expect(DEVICE_STATES.filter((from) => from !== "queued" && canTransition(from, "queued"))).toEqual(["submitting"]);
    expect(canTransition("queued", "submitted")).toBe(false);
    expect(canTransition("retrying", "submitted")).toBe(false);
  });
});
