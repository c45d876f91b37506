import { describe, expect, it } from "vitest";
import { decideIdleRounds, decidePollRound } from "../../src/worker/pollBatch.js";

describe("decidePollRound", () => {
  const message = { attempt: 3 };
  it.each([
    ["a batch that is gone", undefined, "stale"],
    ["a batch being erased", { pollAttempt: 2, erasingAt: "2026-12-07T00:00:00Z" }, "stale"],
    ["the first round of a batch", {}, "claim"],
    ["the round after the last one taken", { pollAttempt: 2, pollClaimedBy: "m-2" }, "claim"],
    ["this round, taken by this delivery before it failed", { pollAttempt: 3, pollClaimedBy: "m-3" }, "resume"],
    ["this round, taken by another copy", { pollAttempt: 3, pollClaimedBy: "m-other" }, "stale"],
    ["a later round already taken", { pollAttempt: 4, pollClaimedBy: "m-3" }, "stale"],
  ] as const)("%s", (_, batch, expected) => {
    expect(decidePollRound(batch, message, "m-3")).toBe(expected);
  });
});

describe("decideIdleRounds", () => {
  const now = Date.parse("2026-12-07T12:00:00Z");
  const round = { progressed: false, waiting: 0, lastSentAt: now - 60_000, now, firstDelayMs: 15_000 };
  it.each([
    ["nothing moved, the imports running a minute", round, 3],
    ["a device's end recorded", { ...round, progressed: true }, 0],
    ["devices still to be written", { ...round, waiting: 4 }, 0],
    ["the latest write a moment ago", { ...round, lastSentAt: now - 200 }, 0],
    ["the latest write one first delay ago", { ...round, lastSentAt: now - 15_000 }, 3],
    ["no device followed", { ...round, lastSentAt: 0 }, 3],
  ] as const)("%s", (_, facts, expected) => {
    expect(decideIdleRounds(2, facts)).toBe(expected);
  });
});
