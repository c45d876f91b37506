import { json } from "../http/responses.js";
import type { AppResponse } from "../http/types.js";
import type { DryRunResult } from "../status/viewSchemas.js";
import { HASH_WARNINGS } from "../model/hashRules.js";
import { countByModel } from "./deviceModels.js";
import type { ImportRequest } from "./deviceSchema.js";

/**
 * The 200 of POST /api/imports?dryRun=true: what the batch would be, device by device, so a
 * partner sees what an order holds (and what Intune would refuse) before anything is recorded.
 * Only what the device views show: never the hash, product key or UPN.
 */
export function dryRunResponse(request: ImportRequest, tenantId: string, lines: readonly number[] | undefined): AppResponse {
  const body: DryRunResult = {
    dryRun: true,
    tenantId,
    deviceCount: request.devices.length,
    hashCheck: request.hashCheck === "off" ? "off" : "on",
    deviceModels: countByModel(request.devices),
    devices: request.devices.map((device, index) => ({
      index,
      ...(lines?.[index] ? { line: lines[index] } : {}),
      serialNumber: device.serialNumber,
      ...(device.manufacturer ? { manufacturer: device.manufacturer } : {}),
      ...(device.model ? { model: device.model } : {}),
      ...(device.warnings?.length ? { warnings: device.warnings.map((code) => ({ code, message: HASH_WARNINGS[code] })) } : {}),
    })),
  };
  return json(200, body);
}

/** `?dryRun=true|false` (any case); undefined when absent, "invalid" for anything else. */
export function readDryRun(query: URLSearchParams): boolean | "invalid" | undefined {
  const values = [...query].filter(([name]) => name.toLowerCase() === "dryrun").map(([, value]) => value.trim().toLowerCase());
  if (values.length === 0) return undefined;
  if (values.every((v) => v === "true")) return true;
  if (values.every((v) => v === "false")) return false;
  return "invalid";
}
