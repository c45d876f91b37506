import { autopilotDeviceBody, parseSerialFilter, type AutopilotDevice, type AutopilotDeviceStore } from "./autopilotDevices.js";
import { serialKey } from "./deviceKeys.js";
import type { OperationRequest } from "./handlers.js";
import { isJsonContentType, type Reply } from "./httpIo.js";
import { decodeSkipToken, encodeSkipToken, parseTop, takePage } from "./paging.js";
import type { ApiVersion } from "./validation.js";

const ENTITY_SET_PATH = "deviceManagement/windowsAutopilotDeviceIdentities";
const QUERY_OPTIONS: ReadonlySet<string> = new Set(["$top", "$skiptoken", "$filter"]);
/** updateDeviceProperties takes these (facts sheet); anything else is refused by name. */
const UPDATABLE = ["userPrincipalName", "addressableUserName", "groupTag", "displayName"] as const;

export interface AutopilotServiceOptions {
  pageSize: number;
  profileDelayMs: number;
  repeatLastNextLink: boolean;
  /** Frees the device's hash and serial number in the tenant's registry: it may be imported again. */
  unregister(device: AutopilotDevice): void;
}

/**
 * The operations of windowsAutopilotDeviceIdentities, after auth and throttling: list (paged,
 * `contains(serialNumber,'…')`), get, updateDeviceProperties, delete, and beta's deleteDevices.
 * The profile assignment properties exist only in beta (the v1.0 type has neither), so v1.0
 * answers leave them out.
 */
export class AutopilotDeviceService {
  constructor(
    private readonly store: AutopilotDeviceStore,
    private readonly baseUrl: string,
    private readonly options: AutopilotServiceOptions,
  ) {}

  list(req: OperationRequest): Reply {
    for (const key of req.query.keys()) {
      if (key.startsWith("$") && !QUERY_OPTIONS.has(key.toLowerCase()))
        return req.error(400, "BadRequest", `Query option '${key}' is not supported here by the simulator.`);
    }
    const filter = option(req.query, "$filter");
    let contains: string | undefined;
    if (filter !== null) {
      const parsed = parseSerialFilter(filter);
      if (!parsed.ok) return req.intuneError(400, "BadRequest", parsed.message);
      contains = parsed.contains.toUpperCase();
    }
    const rawTop = option(req.query, "$top");
    const skipToken = option(req.query, "$skiptoken");
    let top = this.options.pageSize;
    if (rawTop !== null) {
      const parsed = parseTop(rawTop);
      if (parsed === undefined)
        return req.error(400, "BadRequest", `Invalid value '${rawTop}' for $top: use a whole number from 1 to 999.`);
      top = parsed;
    }
    let cursor = { after: 0, top };
    if (skipToken !== null) {
      const decoded = decodeSkipToken(skipToken);
      if (!decoded) return req.error(400, "BadRequest", "The $skiptoken is invalid. Follow @odata.nextLink as returned.");
      cursor = rawTop === null ? decoded : { after: decoded.after, top };
    }
    const matching = this.store
      .list(req.principal.tenantId, req.now, true)
      .filter((d) => contains === undefined || d.serialNumber.toUpperCase().includes(contains));
    const page = takePage(matching, cursor);
    const version = req.route.version;
    const body: Record<string, unknown> = {
      "@odata.context": `${this.baseUrl}/${version}/$metadata#${ENTITY_SET_PATH}`,
      value: page.items.map((d) => this.body(version, d, req.now)),
    };
    // The repeated last nextLink was seen on exactly this collection (microsoft-graph-docs #8186).
    const repeat = this.options.repeatLastNextLink && skipToken !== null;
    const next = page.next ?? (repeat ? cursor : undefined);
    if (next) {
      const keep = filter !== null ? `$filter=${encodeURIComponent(filter)}&` : "";
      body["@odata.nextLink"] = `${this.baseUrl}/${version}/${ENTITY_SET_PATH}?${keep}$skiptoken=${encodeSkipToken(next)}`;
    }
    return { kind: "respond", status: 200, body };
  }

  get(req: OperationRequest & { route: { kind: "autopilotItem" } }): Reply {
    const device = this.store.get(req.principal.tenantId, req.route.id, req.now);
    if (!device) return notFound(req, req.route.id);
    return {
      kind: "respond",
      status: 200,
      body: {
        "@odata.context": `${this.baseUrl}/${req.route.version}/$metadata#${ENTITY_SET_PATH}/$entity`,
        ...this.body(req.route.version, device, req.now),
      },
    };
  }

  update(req: OperationRequest & { route: { kind: "autopilotUpdate" } }): Reply {
    const device = this.store.get(req.principal.tenantId, req.route.id, req.now);
    if (!device) return notFound(req, req.route.id);
    if (
      req.body.kind !== "json" ||
      !isJsonContentType(req.contentType) ||
      typeof req.body.value !== "object" ||
      req.body.value === null ||
      Array.isArray(req.body.value)
    ) {
      return req.intuneError(400, "BadRequest", "updateDeviceProperties takes a JSON object.");
    }
    const changes: Record<string, string> = {};
    for (const [key, value] of Object.entries(req.body.value as Record<string, unknown>)) {
      const name = UPDATABLE.find((u) => u.toLowerCase() === key.toLowerCase());
      if (!name) return req.intuneError(400, "BadRequest", `updateDeviceProperties has no parameter '${key}'.`);
      if (value !== null && typeof value !== "string") return req.intuneError(400, "BadRequest", `'${key}' must be a string.`);
      changes[name] = value ?? "";
    }
    this.store.update(device, changes, req.now);
    return { kind: "respond", status: 204 };
  }

  delete(req: OperationRequest & { route: { kind: "autopilotItem" } }): Reply {
    const device = this.store.get(req.principal.tenantId, req.route.id, req.now);
    if (!device) return notFound(req, req.route.id);
    if (device.enrollmentState === "enrolled") {
      // The facts sheet: a device still enrolled in Intune must be removed from Intune first, or
      // the delete fails. The status and wording of that failure are not documented (unconfirmed).
      return req.intuneError(400, "BadRequest", "The device is enrolled in Intune; delete its managed device first, then deregister it.");
    }
    this.store.remove(req.principal.tenantId, device.id);
    this.options.unregister(device);
    return { kind: "respond", status: 204 };
  }

  /** Beta: `{"serialNumbers":[…]}` → 200 with a deletionState per serial (facts sheet; the state values are unconfirmed). */
  deleteDevices(req: OperationRequest): Reply {
    const value = req.body.kind === "json" ? (req.body.value as { serialNumbers?: unknown }) : undefined;
    const serials = value && typeof value === "object" ? value.serialNumbers : undefined;
    if (!Array.isArray(serials) || serials.some((s) => typeof s !== "string")) {
      return req.intuneError(400, "BadRequest", 'deleteDevices takes {"serialNumbers": [ … ]}.');
    }
    const results = (serials as string[]).map((serialNumber) => {
      const found = serialKey(serialNumber) === undefined ? [] : this.store.bySerial(req.principal.tenantId, serialNumber, req.now);
      if (found.length === 0)
        return { serialNumber, deletionState: "failed", errorMessage: "No Autopilot device with this serial number in the tenant." };
      const enrolled = found.find((d) => d.enrollmentState === "enrolled");
      if (enrolled)
        return {
          serialNumber,
          deviceRegistrationId: enrolled.id,
          deletionState: "failed",
          errorMessage: "The device is enrolled in Intune.",
        };
      for (const device of found) {
        this.store.remove(req.principal.tenantId, device.id);
        this.options.unregister(device);
      }
      return { serialNumber, deviceRegistrationId: found[0]!.id, deletionState: "accepted" };
    });
    return {
      kind: "respond",
      status: 200,
      body: {
        "@odata.context": `${this.baseUrl}/beta/$metadata#Collection(microsoft.graph.deletedWindowsAutopilotDeviceState)`,
        value: results,
      },
    };
  }

  private body(version: ApiVersion, device: AutopilotDevice, now: number): Record<string, unknown> {
    const body = autopilotDeviceBody(device, now, this.options.profileDelayMs);
    if (version === "v1.0") {
      delete body.deploymentProfileAssignmentStatus;
      delete body.deploymentProfileAssignedDateTime;
    }
    return body;
  }
}

function option(query: URLSearchParams, name: string): string | null {
  for (const [key, value] of query) if (key.toLowerCase() === name) return value;
  return null;
}

function notFound(req: OperationRequest, id: string): Reply {
  return req.intuneError(404, "ResourceNotFound", `No windowsAutopilotDeviceIdentity with id '${id}' exists in this tenant.`);
}
