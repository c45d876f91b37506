import { describe, expect, it } from "vitest";
import { FaultBook } from "../../../src/dev/simulator/faults.js";

const post = { method: "POST", path: "/v1.0/deviceManagement/importedWindowsAutopilotDeviceIdentities", serialNumbers: ["S1"] };
const get = { method: "GET", path: "/v1.0/deviceManagement/importedWindowsAutopilotDeviceIdentities/x", serialNumbers: [] };

describe("FaultBook", () => {
  it("applies the first matching rule in injection order", () => {
    const book = new FaultBook();
    book.add({ match: { method: "GET" }, kind: "drop" });
    book.add({ kind: "status", status: 503 });
    expect(book.find(get)?.kind).toBe("drop");
    expect(book.find(post)?.kind).toBe("status");
  });

  it("retires a rule after `times` uses and keeps unlimited ones until cleared", () => {
    const book = new FaultBook();
    book.add({ kind: "status", status: 500, times: 2 });
    book.add({ kind: "drop" });
    for (const expected of ["status", "status", "drop", "drop"]) {
      const rule = book.find(post)!;
      expect(rule.kind).toBe(expected);
      book.consume(rule);
    }
    book.clear();
    expect(book.find(post)).toBeUndefined();
  });

  it("matches method case-insensitively, path by substring, serial among the request's serials", () => {
    const book = new FaultBook();
    book.add({ match: { method: "post", pathIncludes: "Identities", serialNumber: "S1" }, kind: "drop" });
    expect(book.find(post)).toBeDefined();
    expect(book.find({ ...post, serialNumbers: ["S2"] })).toBeUndefined();
    expect(book.find({ ...post, path: "/v1.0/deviceManagement/windowsAutopilotSettings/sync" })).toBeUndefined();
  });

  it("is not changed by the caller mutating the rule afterwards", () => {
    const book = new FaultBook();
    const rule = { kind: "status" as const, status: 500 };
    book.add(rule);
    rule.status = 200;
    expect(book.find(post)).toMatchObject({ status: 500 });
  });
});
