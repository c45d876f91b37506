import { describe, expect, it } from "vitest";
import type { ImportedDeviceIdentity } from "../../src/graph/importedDevice.js";
import { decideInDoubt, type InDoubtFacts } from "../../src/worker/recordOwnership.js";

const KEY = "batch-1/device-000000";
const record = (id: string, status: "unknown" | "pending" | "complete" | "error", importId?: string): ImportedDeviceIdentity => ({
  id,
  serialNumber: "PF3ABC09",
  ...(importId ? { importId } : {}),
  state: { deviceImportStatus: status },
});
const facts = (over: Partial<InDoubtFacts>): InDoubtFacts => ({
  records: [],
  complete: true,
  importId: KEY,
  now: 200_000,
  doubtSince: 0,
  listGraceMs: 120_000,
  ...over,
});

describe("which record found after a lost create is ours", () => {
  it.each<[string, Partial<InDoubtFacts>, ReturnType<typeof decideInDoubt>["kind"]]>([
    [
      "the docs' echo of our importId proves it, whatever its state",
      { records: [record("a", "complete", "other"), record("b", "complete", KEY)] },
      "ours",
    ],
    ["none, after the list grace: nothing was created", { records: [] }, "create"],
    ["none, within the list grace: look again", { records: [], now: 60_000 }, "wait"],
    ["none, but the walk did not read the whole list: cannot tell", { records: [], complete: false }, "unclear"],
    ["one still importing: ours", { records: [record("a", "pending", "a")] }, "ours"],
    ["one whose status is still unknown: ours", { records: [record("a", "unknown", "a")] }, "ours"],
    ["one already finished: matched, not ours", { records: [record("a", "complete", "a")] }, "matched"],
    ["one that ended in error: matched, not ours", { records: [record("a", "error", "a")] }, "matched"],
    ["several: cannot tell", { records: [record("a", "pending", "a"), record("b", "complete", "b")] }, "unclear"],
  ])("%s", (_name, over, kind) => {
    expect(decideInDoubt(facts(over)).kind).toBe(kind);
  });

  it("waits until the grace after the doubtful attempt ends", () => {
    expect(decideInDoubt(facts({ now: 1_000, doubtSince: 500 }))).toEqual({ kind: "wait", untilMs: 120_500 });
  });

  it("never decides to create while any record with the serial exists", () => {
    for (const status of ["unknown", "pending", "complete", "error"] as const) {
      for (const complete of [true, false]) {
        expect(decideInDoubt(facts({ records: [record("x", status, "x")], complete })).kind).not.toBe("create");
      }
    }
  });

  it("names every candidate when it cannot tell", () => {
    expect(decideInDoubt(facts({ records: [record("a", "pending"), record("b", "pending")] }))).toMatchObject({
      kind: "unclear",
      recordIds: ["a", "b"],
      reason: "several-records",
    });
  });
});
