import { describe, expect, it } from "vitest";
import { batchStatus } from "../../src/status/batchStatus.js";
import { emptyCounts } from "../../src/storage/importEntities.js";

const counts = (c: Partial<ReturnType<typeof emptyCounts>>) => ({ ...emptyCounts(), ...c });

describe("batchStatus", () => {
  it("is running while any device is not final", () => {
    expect(batchStatus(3, counts({ imported: 2, submitted: 1 }))).toBe("running");
    expect(batchStatus(3, counts({ imported: 2, retrying: 1 }))).toBe("running");
  });
  it("succeeds when every device imported", () => expect(batchStatus(2, counts({ imported: 2 }))).toBe("succeeded"));
  it("fails when every device failed", () => expect(batchStatus(2, counts({ failed: 2 }))).toBe("failed"));
  it("partially succeeds on a mix", () => expect(batchStatus(3, counts({ imported: 2, failed: 1 }))).toBe("partially_succeeded"));
});
