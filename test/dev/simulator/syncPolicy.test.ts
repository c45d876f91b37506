import { describe, expect, it } from "vitest";
import { decideSync, SYNC_COOLDOWN_MS } from "../../../src/dev/simulator/syncPolicy.js";

describe("decideSync", () => {
  const run = 2_000;
  it("starts the first sync", () => {
    expect(decideSync({}, 0, run, SYNC_COOLDOWN_MS)).toEqual({ outcome: "started" });
  });
  it("answers running while the previous sync runs, then too soon until the cooldown ends", () => {
    const history = { lastStartedAt: 1_000 };
    expect(decideSync(history, 2_999, run, SYNC_COOLDOWN_MS)).toEqual({ outcome: "running" });
    expect(decideSync(history, 3_000, run, SYNC_COOLDOWN_MS)).toEqual({ outcome: "tooSoon", retryAfterMs: SYNC_COOLDOWN_MS - 2_000 });
    expect(decideSync(history, 1_000 + SYNC_COOLDOWN_MS, run, SYNC_COOLDOWN_MS)).toEqual({ outcome: "started" });
  });
});
