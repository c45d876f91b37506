import { describe, expect, it } from "vitest";
import { assertTransition, canTransition, DEVICE_STATES, isFinal } from "../../src/worker/deviceState.js";

describe("device state machine", () => {
  it("has exactly two final states, which lead nowhere", () => {
    expect(DEVICE_STATES.filter(isFinal)).toEqual(["imported", "failed"]);
    for (const to of DEVICE_STATES) {
      expect(canTransition("imported", to)).toBe(false);
      expect(canTransition("failed", to)).toBe(false);
    }
  });

  it("can fail from every state that is not final", () => {
    for (const from of DEVICE_STATES.filter((s) => !isFinal(s))) expect(canTransition(from, "failed")).toBe(true);
  });

  it("only reaches imported through a create Graph accepted", () => {
    expect(DEVICE_STATES.filter((from) => canTransition(from, "imported"))).toEqual(["submitting", "submitted"]);
  });

  it("refuses to go back to queued or to skip the claim", () => {
    expect(() => assertTransition("submitted", "queued")).toThrow(/cannot go from submitted to queued/);
    expect(canTransition("queued", "submitted")).toBe(false);
    expect(canTransition("retrying", "submitted")).toBe(false);
  });
});
