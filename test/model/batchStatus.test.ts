import { describe, expect, it } from "vitest";
import { batchStatus } from "../../src/model/batchStatus.js";
import { emptyCounts } from "../../src/model/deviceState.js";

const counts = (c: Partial<ReturnType<typeof emptyCounts>>) => ({ ...emptyCounts(), ...c });

describe("batchStatus", () => {
  it("is running while any device is not final", () => {
    expect(batchStatus(3, counts({ imported: 2, submitted: 1 }))).toBe("running");
    expect(batchStatus(3, counts({ imported: 2, retrying: 1 }))).toBe("running");
  });
  it("succeeds when every device imported", () => expect(batchStatus(2, counts({ imported: 2 }))).toBe("succeeded"));
  it("fails when every device failed", () => expect(batchStatus(2, counts({ failed: 2 }))).toBe("failed"));
  it("partially succeeds on a mix", () => expect(batchStatus(3, counts({ imported: 2, failed: 1 }))).toBe("partially_succeeded"));
  it("is canceled once settled with any canceled device, whatever the others did", () => {
    expect(batchStatus(3, counts({ imported: 1, failed: 1, canceled: 1 }))).toBe("canceled");
    expect(batchStatus(2, counts({ canceled: 2 }))).toBe("canceled");
  });
  it("runs on while a canceled batch still has an import in Graph", () => {
    expect(batchStatus(3, counts({ canceled: 2, submitted: 1 }))).toBe("running");
  });
});
