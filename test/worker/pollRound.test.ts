import { describe, expect, it } from "vitest";
import { decidePollRound } from "../../src/worker/pollBatch.js";

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
