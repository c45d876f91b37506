import { describe, expect, it } from "vitest";
import type { ImportedDeviceIdentity } from "../../src/graph/importedDevice.js";
import { chunkSends, deviceIndexOf, groupIntoChunks, matchRecords, rangeOf, splitInHalves } from "../../src/worker/chunks.js";
import { decideActionRecord } from "../../src/worker/recordOwnership.js";
import { chunkRole } from "../../src/storage/deviceMessage.js";

describe("groupIntoChunks", () => {
  it.each([
    { indices: [0, 1, 2, 3, 4], size: 2, chunks: [[0, 1], [2, 3], [4]] },
    { indices: [0, 1, 2], size: 100, chunks: [[0, 1, 2]] },
    {
      indices: [0, 1, 5, 6, 7],
      size: 100,
      chunks: [
        [0, 1],
        [5, 6, 7],
      ],
    },
    { indices: [3], size: 100, chunks: [[3]] },
    { indices: [], size: 100, chunks: [] },
    { indices: [0, 1, 2], size: 1, chunks: [[0], [1], [2]] },
  ])("$indices in chunks of $size", ({ indices, size, chunks }) => {
    expect(groupIntoChunks(indices, size)).toEqual(chunks);
  });

  it("puts 150 devices in chunks of 100 and 50", () => {
    expect(
      groupIntoChunks(
        Array.from({ length: 150 }, (_, i) => i),
        100,
      ).map((c) => c.length),
    ).toEqual([100, 50]);
  });
});

describe("rangeOf and roles", () => {
  it.each([
    { indices: [4], range: undefined },
    { indices: [4, 5], range: { first: "device-000004", size: 2 } },
    { indices: [4, 9], range: { first: "device-000004", size: 6 } },
  ])("$indices spans $range", ({ indices, range }) => {
    expect(rangeOf(indices)).toEqual(range);
  });

  it.each([
    [{ rowKey: "device-000001" }, "single"],
    [{ rowKey: "device-000001", chunk: { first: "device-000001", size: 3 } }, "leader"],
    [{ rowKey: "device-000002", chunk: { first: "device-000001", size: 3 } }, "follower"],
  ] as const)("%o is a %s", (message, role) => {
    expect(chunkRole(message)).toBe(role);
  });

  it("reads the index of a device row key and refuses anything else", () => {
    expect(deviceIndexOf("device-000042")).toBe(42);
    expect(() => deviceIndexOf("batch")).toThrow(RangeError);
  });
});

describe("chunkSends", () => {
  it("sends the leader at the slot, its lookout (the first follower) a third of the follower delay later, and every other device's message the follower delay later", () => {
    const sends = chunkSends("b", [7, 5, 6, 8], 2, 10_000, 30, 60_000);
    expect(sends.map((s) => [s.message.rowKey, s.slotAt, s.message.slotAt, s.hold])).toEqual([
      ["device-000005", 10_000, 10_000, undefined],
      ["device-000006", 30_000, 10_000, false],
      ["device-000007", 70_000, 10_000, false],
      ["device-000008", 70_000, 10_000, false],
    ]);
    expect(sends.every((s) => s.message.attempt === 2 && s.message.shiftAt === 30)).toBe(true);
    expect(new Set(sends.map((s) => JSON.stringify(s.message.chunk)))).toEqual(
      new Set([JSON.stringify({ first: "device-000005", size: 4 })]),
    );
  });

  it("sends a chunk of one as a plain create attempt", () => {
    expect(chunkSends("b", [3], 1, 5, 0, 60_000)).toEqual([
      { message: { v: 1, kind: "submit", batchId: "b", rowKey: "device-000003", attempt: 1, slotAt: 5, shiftAt: 0 }, slotAt: 5 },
    ]);
  });
});

describe("splitInHalves", () => {
  it.each([
    {
      claimed: [0, 1, 2, 3],
      halves: [
        [0, 1],
        [2, 3],
      ],
    },
    { claimed: [0, 1, 2], halves: [[0, 1], [2]] },
    { claimed: [9, 2, 5], halves: [[2, 5], [9]] },
    { claimed: [4, 5], halves: [[4], [5]] },
  ])("$claimed → $halves", ({ claimed, halves }) => {
    expect(splitInHalves(claimed)).toEqual(halves);
  });
});

const record = (
  id: string,
  serialNumber: string,
  status: "unknown" | "pending" | "complete" | "error" = "unknown",
  importId?: string,
): ImportedDeviceIdentity => ({
  id,
  serialNumber,
  ...(importId ? { importId } : {}),
  state: { deviceImportStatus: status },
});

describe("matchRecords", () => {
  it("matches by serial number, trimmed and case-insensitive, never by position or importId", () => {
    const devices = [
      { rowKey: "device-000000", serialNumber: "abc-1" },
      { rowKey: "device-000001", serialNumber: "ABC-2" },
      { rowKey: "device-000002", serialNumber: "abc-3" },
    ];
    const matched = matchRecords(devices, [record("r2", " abc-2 ", "unknown", "device-000000"), record("r1", "ABC-1")]);
    expect(Object.fromEntries([...matched].map(([k, r]) => [k, r.id]))).toEqual({ "device-000000": "r1", "device-000001": "r2" });
  });

  it("gives each record to one device only, and ignores records without an id", () => {
    const devices = [
      { rowKey: "a", serialNumber: "S" },
      { rowKey: "b", serialNumber: "S" },
    ];
    expect([...matchRecords(devices, [record("r1", "S"), { ...record("", "S") }])].map(([k, r]) => [k, r.id])).toEqual([["a", "r1"]]);
  });
});

describe("decideActionRecord (the action went through; which record is the device's)", () => {
  const base = { importId: "batch/device-000001", complete: true, sentAt: 0, listGraceMs: 60_000, now: 120_000 };
  it.each([
    {
      name: "echoed importId",
      records: [record("a", "S", "complete"), record("b", "S", "complete", "batch/device-000001")],
      now: 120_000,
      kind: "ours",
      id: "b",
    },
    {
      name: "the one still importing",
      records: [record("old", "S", "complete"), record("new", "S", "pending")],
      now: 120_000,
      kind: "ours",
      id: "new",
    },
    { name: "two importing", records: [record("a", "S"), record("b", "S")], now: 120_000, kind: "unclear" },
    { name: "one finished record within the grace", records: [record("a", "S", "complete")], now: 10_000, kind: "wait" },
    { name: "nothing within the grace", records: [], now: 10_000, kind: "wait" },
    { name: "one finished record after the grace", records: [record("a", "S", "error")], now: 120_000, kind: "ours", id: "a" },
    { name: "nothing after the grace", records: [], now: 120_000, kind: "gone" },
    {
      name: "several finished after the grace",
      records: [record("a", "S", "complete"), record("b", "S", "complete")],
      now: 120_000,
      kind: "unclear",
    },
  ])("$name → $kind", ({ records, now, kind, id }) => {
    const decision = decideActionRecord({ ...base, records, now });
    expect(decision.kind).toBe(kind);
    if (id) expect(decision.kind === "ours" && decision.record.id).toBe(id);
  });

  it("never says gone from an incomplete walk", () => {
    expect(decideActionRecord({ ...base, records: [], complete: false }).kind).toBe("wait");
  });
});
