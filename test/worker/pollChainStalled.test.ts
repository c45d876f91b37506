import { describe, expect, it } from "vitest";
import { pollChainStalled, pollStallMs } from "../../src/worker/restartStalledPolls.js";

const T = Date.parse("2026-12-07T06:00:00Z");
const STALL = pollStallMs(300_000);

describe("when a batch's poll chain counts as lost", () => {
  it("allows two of its longest delays and a receive's hidden 10 minutes", () => {
    expect(STALL).toBe(20 * 60_000);
  });

  it("only once it has been silent longer than that", () => {
    const batch = { pollAttempt: 4, polledAt: new Date(T).toISOString() };
    expect(pollChainStalled(batch, T + STALL, STALL)).toBe(false);
    expect(pollChainStalled(batch, T + STALL + 1, STALL)).toBe(true);
  });

  it("never for a chain that has not begun (the intake's and the sweeper's to start) or a batch being erased", () => {
    expect(pollChainStalled({}, T + 10 * STALL, STALL)).toBe(false);
    expect(pollChainStalled({ pollAttempt: 2 }, T + 10 * STALL, STALL)).toBe(false);
    const erasing = { pollAttempt: 2, polledAt: new Date(T).toISOString(), erasingAt: new Date(T).toISOString() };
    expect(pollChainStalled(erasing, T + 10 * STALL, STALL)).toBe(false);
  });
});
