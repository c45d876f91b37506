import { describe, expect, it } from "vitest";
import { SimulatedImportStore, type ImportTiming } from "../../../src/dev/simulator/importStore.js";
import type { ImportedDeviceInput } from "../../../src/dev/simulator/records.js";
import { syntheticHash, syntheticHashBytes } from "../../../src/dev/simulator/syntheticHash.js";

/** Same `hashText`, same hash: a synthetic one naming the serial, seeded by the text. */
function input(serial: string, hashText = `hash-${serial}`): ImportedDeviceInput {
  const seed = [...hashText].reduce((h, c) => (h * 31 + c.charCodeAt(0)) | 0, 0);
  return {
    serialNumber: serial,
    hardwareIdentifier: syntheticHash({ serialNumber: serial.trim(), seed }),
    groupTag: null,
    productKey: null,
    importId: null,
    assignedUserPrincipalName: null,
  };
}

/** Settles after `settleDelayMs`, with no pending phase and no list lag. */
function settling(settleDelayMs: number): ImportTiming {
  return { settleDelayMs, pendingAfterMs: undefined, listLagMs: 0 };
}

describe("SimulatedImportStore", () => {
  it("settles nothing before its time and everything due at once, in creation order", () => {
    const store = new SimulatedImportStore();
    // Created in seq order but with a clock that stepped back: creation *time* decides.
    const late = store.create("B", "app", input("S1"), 1_000, settling(100));
    const early = store.create("A", "app", input("S1"), 900, settling(100));
    store.settleDue(999);
    expect(early.record.state.deviceImportStatus).toBe("unknown");
    store.settleDue(1_100);
    expect(early.record.state.deviceImportStatus).toBe("complete");
    expect(late.record.state).toMatchObject({ deviceImportStatus: "error", deviceErrorCode: 808 });
  });

  it("matches serial numbers case- and space-insensitively", () => {
    const store = new SimulatedImportStore();
    store.registerDevice("A", { serialNumber: "abc-1" });
    const bySerial = store.create("A", "app", input(" ABC-1 ", "other"), 0, settling(0));
    store.settleDue(0);
    expect(bySerial.record.state.deviceErrorCode).toBe(806);
  });

  it("reports a duplicate only while the earlier import was still pending", () => {
    const store = new SimulatedImportStore();
    const first = store.create("A", "app", input("S"), 0, settling(100));
    const overlapping = store.create("A", "app", input("S"), 50, settling(100));
    const chained = store.create("A", "app", input("S"), 100, settling(100)); // first has settled, but overlapping has not
    const afterwards = store.create("A", "app", input("S"), 200, settling(100)); // nothing of this hash pending any more
    store.settleDue(1_000);
    expect(first.record.state.deviceImportStatus).toBe("complete");
    expect(overlapping.record.state.deviceErrorName).toBe("ZtdDeviceDuplicated");
    expect(chained.record.state.deviceErrorName).toBe("ZtdDeviceDuplicated");
    expect(afterwards.record.state.deviceErrorCode).toBe(806);
  });

  it("does not call an import a duplicate of a deleted one", () => {
    const store = new SimulatedImportStore();
    const first = store.create("A", "app", input("S"), 0, settling(100));
    const second = store.create("A", "app", input("S"), 10, settling(100));
    expect(store.delete("A", first.record.id)).toBe(true);
    store.settleDue(1_000);
    expect(second.record.state.deviceImportStatus).toBe("complete");
    expect(store.delete("A", first.record.id)).toBe(false);
  });

  it("turns an import pending at its time, even when nothing else is due, and never back", () => {
    const store = new SimulatedImportStore();
    const timing: ImportTiming = { settleDelayMs: 300, pendingAfterMs: 100, listLagMs: 0 };
    const early = store.create("A", "app", input("S1"), 0, timing);
    const late = store.create("A", "app", input("S2"), 50, timing);
    store.settleDue(99);
    expect([early, late].map((s) => s.record.state.deviceImportStatus)).toEqual(["unknown", "unknown"]);
    store.settleDue(100);
    expect([early, late].map((s) => s.record.state.deviceImportStatus)).toEqual(["pending", "unknown"]);
    store.settleDue(150);
    expect(late.record.state.deviceImportStatus).toBe("pending");
    store.settleDue(300);
    expect([early, late].map((s) => s.record.state.deviceImportStatus)).toEqual(["complete", "pending"]);
    store.settleDue(350);
    expect(late.record.state.deviceImportStatus).toBe("complete");
  });

  it("lists a record from its list lag on, in creation order, while get and list() have it at once", () => {
    const store = new SimulatedImportStore();
    const first = store.create("A", "app", input("S1"), 0, { settleDelayMs: 10, pendingAfterMs: undefined, listLagMs: 100 });
    const second = store.create("A", "app", input("S2"), 20, { settleDelayMs: 10, pendingAfterMs: undefined, listLagMs: 100 });
    expect([...store.listed("A", 99)]).toEqual([]);
    expect([...store.listed("A", 100)]).toEqual([first]);
    expect([...store.listed("A", 120)]).toEqual([first, second]);
    expect(store.get("A", second.record.id)).toBe(second);
    expect([...store.list("A")]).toEqual([first, second]);
  });

  it("refuses ops calls that could never take effect", () => {
    const store = new SimulatedImportStore();
    expect(() => store.registerDevice("A", {})).toThrow(TypeError);
    expect(() => store.registerDevice("A", { hardwareIdentifier: "not base64" })).toThrow(TypeError);
    expect(() => store.rejectHash("", 802)).toThrow(TypeError);
    expect(() => store.rejectHash(Buffer.from("x").toString("base64"), 805)).toThrow(RangeError);
  });
});

describe("SimulatedImportStore on hashes Intune cannot use", () => {
  it.each([
    ["a hash that does not decode", Buffer.from("not a hardware hash at all").toString("base64")],
    ["a hash without a serial number inside", syntheticHash({ seed: 1 })],
    [
      "a hash with a broken checksum",
      (() => {
        const b = syntheticHashBytes({ serialNumber: "S", seed: 2 });
        b[30] = b[30]! ^ 1;
        return b.toString("base64");
      })(),
    ],
  ])("settles %s as 802 InvalidZtdHardwareHash", (_, hardwareIdentifier) => {
    const store = new SimulatedImportStore();
    const stored = store.create("A", "app", { ...input("S"), hardwareIdentifier }, 0, settling(0));
    store.settleDue(0);
    expect(stored.record.state).toMatchObject({
      deviceImportStatus: "error",
      deviceErrorCode: 802,
      deviceErrorName: "InvalidZtdHardwareHash",
    });
  });

  it("settles a hash that names its device as complete", () => {
    const store = new SimulatedImportStore();
    const stored = store.create("A", "app", input("S"), 0, settling(0));
    store.settleDue(0);
    expect(stored.record.state.deviceImportStatus).toBe("complete");
  });
});
