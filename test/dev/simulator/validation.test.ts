import { describe, expect, it } from "vitest";
import { importActionSize, serialNumbersIn, validateImportAction, validateImportedDevice } from "../../../src/dev/simulator/validation.js";

const HASH = Buffer.from("hash").toString("base64");

describe("validateImportedDevice", () => {
  it("keeps the client's properties and nulls the absent ones", () => {
    expect(validateImportedDevice({ serialNumber: "S1", hardwareIdentifier: HASH, groupTag: null }, "v1.0")).toEqual({
      ok: true,
      value: {
        serialNumber: "S1",
        hardwareIdentifier: HASH,
        groupTag: null,
        productKey: null,
        importId: null,
        assignedUserPrincipalName: null,
      },
    });
  });

  it("accepts and ignores the service-owned id and state, as Graph's samples send them", () => {
    const result = validateImportedDevice(
      { id: "x", state: { deviceImportStatus: "complete" }, serialNumber: "S", hardwareIdentifier: HASH },
      "v1.0",
    );
    expect(result.ok).toBe(true);
    expect(result).not.toHaveProperty("value.id");
  });

  it("accepts both spellings of @odata.type and refuses another type", () => {
    for (const t of ["#microsoft.graph.importedWindowsAutopilotDeviceIdentity", "microsoft.graph.importedWindowsAutopilotDeviceIdentity"]) {
      expect(validateImportedDevice({ "@odata.type": t }, "v1.0").ok).toBe(true);
    }
    expect(validateImportedDevice({ "@odata.type": "#microsoft.graph.windowsAutopilotDeviceIdentity" }, "v1.0").ok).toBe(false);
  });

  it("takes orderIdentifier on beta only", () => {
    expect(validateImportedDevice({ orderIdentifier: "o" }, "beta").ok).toBe(true);
    expect(validateImportedDevice({ orderIdentifier: "o" }, "v1.0")).toMatchObject({
      ok: false,
      message: expect.stringContaining("'orderIdentifier' does not exist"),
    });
  });

  it.each([
    ["null", null],
    ["a string", "x"],
    ["an array", []],
    ["unknown property", { foo: 1 }],
    ["unpadded base64", { hardwareIdentifier: "aGFzaA" }],
    ["base64 with whitespace", { hardwareIdentifier: "aGFz aA==" }],
    ["base64url", { hardwareIdentifier: "a-_b" }],
    ["numeric serial", { serialNumber: 5 }],
    ["state that is not an object", { state: "complete" }],
  ])("refuses %s", (_, body) => {
    expect(validateImportedDevice(body, "v1.0").ok).toBe(false);
  });

  it("lets an absent or empty hash through: the import settles to 802 instead", () => {
    expect(validateImportedDevice({ serialNumber: "S" }, "v1.0").ok).toBe(true);
    expect(validateImportedDevice({ serialNumber: "S", hardwareIdentifier: "" }, "v1.0").ok).toBe(true);
  });
});

describe("validateImportAction", () => {
  it("validates each device and names the one that failed", () => {
    expect(validateImportAction({ importedWindowsAutopilotDeviceIdentities: [{ hardwareIdentifier: HASH }] }, "v1.0").ok).toBe(true);
    expect(validateImportAction({ importedWindowsAutopilotDeviceIdentities: [{}, { bad: 1 }] }, "v1.0")).toMatchObject({
      ok: false,
      message: expect.stringMatching(/^importedWindowsAutopilotDeviceIdentities\[1\]/),
    });
    expect(validateImportAction({ importedWindowsAutopilotDeviceIdentities: {} }, "v1.0").ok).toBe(false);
    expect(validateImportAction({ devices: [] }, "v1.0").ok).toBe(false);
  });

  it("sizes an action for the throttle and finds its serial numbers", () => {
    const body = { importedWindowsAutopilotDeviceIdentities: [{ serialNumber: "A" }, { serialNumber: 1 }, { serialNumber: "C" }] };
    expect(importActionSize(body)).toBe(3);
    expect(importActionSize({ importedWindowsAutopilotDeviceIdentities: [] })).toBe(1);
    expect(importActionSize("junk")).toBe(1);
    expect(serialNumbersIn(body)).toEqual(["A", "C"]);
    expect(serialNumbersIn({ serialNumber: "S" })).toEqual(["S"]);
  });
});

describe("Graph's answer to a hash that is not base64", () => {
  it("names the literal as Graph does (windows-itpro-docs #6150), cut short", () => {
    const hash = "T0FzAQEAHAAAAAoA6AOCOgEABgBgW7EdzorHH3g"; // unpadded
    const result = validateImportedDevice({ serialNumber: "S", hardwareIdentifier: hash }, "v1.0");
    expect(result).toEqual({ ok: false, message: "Cannot convert the literal 'T0FzAQEA…' to the expected type 'Edm.Binary'." });
    expect(JSON.stringify(result)).not.toContain(hash.slice(0, 12));
  });
});
