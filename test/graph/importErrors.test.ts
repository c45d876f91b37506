import { describe, expect, it } from "vitest";
import { IMPORT_ERROR_NAMES } from "../../src/graph/importErrorCodes.js";
import { explainImportError, importErrorName } from "../../src/graph/importErrors.js";

describe("import error explanations", () => {
  it("explain every documented code in plain language, naming it", () => {
    for (const [code, name] of IMPORT_ERROR_NAMES) {
      const text = explainImportError(code, undefined);
      expect(text, String(code)).toContain(name);
      expect(text, String(code)).not.toMatch(/^Intune reported import error/);
    }
  });

  it("explain ZtdDeviceDuplicated, which has a name but no documented number", () => {
    expect(explainImportError(0, "ZtdDeviceDuplicated")).toMatch(/more than once/);
    expect(importErrorName(0, "ZtdDeviceDuplicated")).toBe("ZtdDeviceDuplicated");
  });

  it("fall back to the code and name for an undocumented error", () => {
    expect(explainImportError(999, "SomethingNew")).toBe("Intune reported import error 999 SomethingNew.");
    expect(importErrorName(806, undefined)).toBe("ZtdDeviceAlreadyAssigned");
  });
});
