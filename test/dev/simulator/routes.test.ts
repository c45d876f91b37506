import { describe, expect, it } from "vitest";
import { allowedMethods, resolveRoute } from "../../../src/dev/simulator/routes.js";

describe("resolveRoute", () => {
  it.each([
    ["/v1.0/deviceManagement/importedWindowsAutopilotDeviceIdentities", { kind: "collection", version: "v1.0" }],
    ["/beta/devicemanagement/IMPORTEDWINDOWSAUTOPILOTDEVICEIDENTITIES/", { kind: "collection", version: "beta" }],
    ["/v1.0/deviceManagement/importedWindowsAutopilotDeviceIdentities/abc", { kind: "item", version: "v1.0", id: "abc" }],
    ["/v1.0/deviceManagement/importedWindowsAutopilotDeviceIdentities('a%20b')", { kind: "item", version: "v1.0", id: "a b" }],
    ["/v1.0/deviceManagement/importedWindowsAutopilotDeviceIdentities/import", { kind: "importAction", version: "v1.0" }],
    ["/beta/deviceManagement/importedWindowsAutopilotDeviceIdentities/microsoft.graph.import", { kind: "importAction", version: "beta" }],
    ["/beta/deviceManagement/windowsAutopilotSettings/sync", { kind: "sync", version: "beta" }],
    ["/beta/deviceManagement/WindowsAutopilotSettings/microsoft.graph.sync", { kind: "sync", version: "beta" }],
  ])("%s", (path, route) => {
    expect(resolveRoute(path)).toEqual(route);
  });

  it.each([
    ["/v2.0/deviceManagement/importedWindowsAutopilotDeviceIdentities", 404],
    ["/", 404],
    ["/v1.0/deviceManagement", 400],
    ["/v1.0/users", 400],
    ["/v1.0/deviceManagement/importedWindowsAutopilotDeviceIdentities/a/b", 400],
    ["/v1.0/deviceManagement/importedWindowsAutopilotDeviceIdentities/%E0%A4%A", 400],
    ["/beta/deviceManagement/windowsAutopilotSettings", 400],
    ["/v1.0/deviceManagement/windowsAutopilotSettings/sync", 400],
  ])("does not serve %s (%i)", (path, status) => {
    expect(resolveRoute(path)).toMatchObject({ kind: "unknown", status });
  });

  it("names the segment v1.0 lacks when sync is called there, as Graph does", () => {
    expect(resolveRoute("/v1.0/deviceManagement/windowsAutopilotSettings/sync")).toEqual({
      kind: "unknown",
      status: 400,
      message: "Resource not found for the segment 'windowsAutopilotSettings'.",
    });
    expect(resolveRoute("/v1.0/users")).toMatchObject({ message: "Resource not found for the segment 'users'." });
  });

  it("lists the methods each route answers", () => {
    expect(allowedMethods({ kind: "collection", version: "v1.0" })).toEqual(["GET", "POST"]);
    expect(allowedMethods({ kind: "item", version: "v1.0", id: "x" })).toEqual(["GET", "DELETE"]);
    expect(allowedMethods({ kind: "sync", version: "beta" })).toEqual(["POST"]);
  });
});
