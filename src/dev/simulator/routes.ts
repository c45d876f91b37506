import type { ApiVersion } from "./validation.js";

/** The Graph routes the simulator serves. Graph matches path segments case-insensitively. */
export type Route =
  | { kind: "collection"; version: ApiVersion }
  | { kind: "item"; version: ApiVersion; id: string }
  | { kind: "importAction"; version: ApiVersion }
  | { kind: "sync"; version: "beta" }
  // windowsAutopilotDeviceIdentities: the registered Autopilot devices (autopilotDevices.ts).
  | { kind: "autopilotCollection"; version: ApiVersion }
  | { kind: "autopilotItem"; version: ApiVersion; id: string }
  | { kind: "autopilotUpdate"; version: ApiVersion; id: string }
  | { kind: "autopilotDeleteDevices"; version: "beta" }
  | { kind: "unknown"; status: 400 | 404; message: string };

const COLLECTION = "importedwindowsautopilotdeviceidentities";
const AUTOPILOT_COLLECTION = "windowsautopilotdeviceidentities";

export function resolveRoute(pathname: string): Route {
  const segments = pathname.split("/").filter((s) => s !== "");
  const [rawVersion, root, entitySet, next, ...rest] = segments;
  const version = rawVersion === "v1.0" || rawVersion === "beta" ? rawVersion : undefined;
  if (!version) return { kind: "unknown", status: 404, message: `Invalid version: '${rawVersion ?? ""}'. Use v1.0 or beta.` };
  if (root?.toLowerCase() === "devicemanagement" && entitySet?.toLowerCase() === AUTOPILOT_COLLECTION)
    return autopilotRoute(version, segments, next, rest);
  if (root?.toLowerCase() !== "devicemanagement" || entitySet === undefined || rest.length > 0) return unknownSegment(segments);

  const lowerSet = entitySet.toLowerCase();
  if (lowerSet === "windowsautopilotsettings") {
    // Beta only: the v1.0 schema (msgraph-metadata schemas/v1.0-Prod.csdl) and the v1.0 SDK
    // types have no windowsAutopilotSettings, so v1.0 refuses the segment itself, in either behaviour.
    if (version !== "beta") return { kind: "unknown", status: 400, message: `Resource not found for the segment '${entitySet}'.` };
    const action = next?.toLowerCase();
    return action === "sync" || action === "microsoft.graph.sync" ? { kind: "sync", version } : unknownSegment(segments);
  }

  // OData key syntax: importedWindowsAutopilotDeviceIdentities('id')
  const keyed = /^importedwindowsautopilotdeviceidentities\('([^']*)'\)$/.exec(lowerSet);
  if (keyed) {
    const id = decode(entitySet.slice(COLLECTION.length + 2, -2));
    return next === undefined && id !== undefined ? { kind: "item", version, id } : unknownSegment(segments);
  }
  if (lowerSet !== COLLECTION) return unknownSegment(segments);
  if (next === undefined) return { kind: "collection", version };

  const lowerNext = next.toLowerCase();
  if (lowerNext === "import" || lowerNext === "microsoft.graph.import") return { kind: "importAction", version };
  const id = decode(next);
  return id === undefined ? unknownSegment(segments) : { kind: "item", version, id };
}

function autopilotRoute(version: ApiVersion, segments: string[], next: string | undefined, rest: string[]): Route {
  if (next === undefined) return { kind: "autopilotCollection", version };
  const lowerNext = next.toLowerCase();
  if (rest.length === 0 && (lowerNext === "deletedevices" || lowerNext === "microsoft.graph.deletedevices")) {
    // Only beta has the deleteDevices action (facts sheet); v1.0 does not know the segment.
    return version === "beta"
      ? { kind: "autopilotDeleteDevices", version }
      : { kind: "unknown", status: 400, message: `Resource not found for the segment '${next}'.` };
  }
  const id = decode(next);
  if (id === undefined || rest.length > 1) return unknownSegment(segments);
  if (rest.length === 0) return { kind: "autopilotItem", version, id };
  const action = rest[0]!.toLowerCase();
  return action === "updatedeviceproperties" || action === "microsoft.graph.updatedeviceproperties"
    ? { kind: "autopilotUpdate", version, id }
    : unknownSegment(segments);
}

/** Methods each route answers; anything else is 405. */
export function allowedMethods(route: Route): readonly string[] {
  switch (route.kind) {
    case "collection":
      return ["GET", "POST"];
    case "item":
      return ["GET", "DELETE"];
    case "importAction":
      return ["POST"];
    case "sync":
      return ["POST"];
    case "autopilotCollection":
      return ["GET"];
    case "autopilotItem":
      return ["GET", "DELETE"];
    case "autopilotUpdate":
      return ["POST"];
    case "autopilotDeleteDevices":
      return ["POST"];
    case "unknown":
      return [];
  }
}

function unknownSegment(segments: string[]): Route {
  return { kind: "unknown", status: 400, message: `Resource not found for the segment '${segments.slice(1).join("/")}'.` };
}

function decode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
