/**
 * POST /api/deregistrations, body to request: the same reading as an import batch (media type,
 * size, encoding, JSON or CSV, all or nothing; parseImportRequest.ts), with its own schema and CSV
 * layout. A deregistration names devices by serial number only: no hash, product key or UPN is
 * asked for, and an Autopilot CSV's other columns are read past, so the file a batch was imported
 * with deregisters the same devices.
 */
import { z } from "zod";
import { callbackUrlSchema, devicesSchema, serialNumberSchema, tenantIdSchema } from "../intake/deviceSchema.js";
import type { IntakeLimits } from "../model/limits.js";
import { CSV_COLUMNS, IMPORT_CSV, type CsvLayout } from "../intake/parseCsv.js";
import { parseBatchRequest, type ImportRequestInput, type ParseOutcome } from "../intake/parseImportRequest.js";

/**
 * Devices in one deregistration batch: returns and swaps come by the dozen, not by the pallet, and
 * the batch's counts are one query of its device rows (deregistrationStore.ts).
 */
export const DEREGISTRATION_MAX_DEVICES = 1_000;

/** `Device Serial Number` (or Serial Number, Serial, serialNumber) is required; the Autopilot CSV's other columns are allowed and ignored. */
export const DEREGISTRATION_CSV: CsvLayout = {
  name: "deregistration CSV",
  columns: CSV_COLUMNS.map((column) => (column.field === "serialNumber" ? column : { ...column, required: false })),
  aliases: IMPORT_CSV.aliases,
};

export const deregistrationDeviceSchema = z
  .strictObject(
    { serialNumber: serialNumberSchema },
    { error: (issue) => (issue.code === "invalid_type" ? "each device must be a JSON object" : undefined) },
  )
  .describe(
    "A device to deregister, by its serial number: the tenant's Autopilot device with exactly this serial number (trimmed, ignoring case) is deleted.",
  );

export function createDeregistrationRequestSchema(maxDevices: number = DEREGISTRATION_MAX_DEVICES) {
  return z
    .strictObject({
      tenantId: tenantIdSchema.describe(
        "The Entra tenant whose Autopilot devices are deregistered: its GUID or a domain name. Defaults to the service's DEFAULT_TENANT_ID. The partner must be allowed to act on it.",
      ),
      callbackUrl: callbackUrlSchema.describe(
        "Where to POST a signed `deregistration.completed` event (Standard Webhooks) when the batch reaches its final status: an https URL without credentials, not pointing at a private, loopback or link-local address. Only its host is ever shown back.",
      ),
      devices: devicesSchema(
        { maxDevices },
        deregistrationDeviceSchema,
        `The devices, 1 to ${maxDevices}, by serial number (unique within the batch, ignoring case).`,
      ),
    })
    .describe("A batch of returned, resold or swapped devices to deregister from a tenant's Windows Autopilot devices.");
}

export const deregistrationRequestSchema = createDeregistrationRequestSchema();
export type DeregistrationRequest = z.output<typeof deregistrationRequestSchema>;

/** A CSV row keeps its serial number only: the other columns of an Autopilot CSV (hash, product key, user) are never read further. */
function serialsOnly(input: Record<string, unknown>): Record<string, unknown> {
  const devices = input.devices;
  if (!Array.isArray(devices)) return input;
  return {
    ...input,
    devices: devices.map((d) =>
      typeof d === "object" && d !== null && "serialNumber" in d ? { serialNumber: (d as { serialNumber: unknown }).serialNumber } : d,
    ),
  };
}

export function parseDeregistrationRequest(
  input: ImportRequestInput,
  limits: Pick<IntakeLimits, "maxBodyBytes" | "maxDevices">,
): ParseOutcome<DeregistrationRequest> {
  const maxDevices = Math.min(limits.maxDevices, DEREGISTRATION_MAX_DEVICES);
  const schema = maxDevices === DEREGISTRATION_MAX_DEVICES ? deregistrationRequestSchema : createDeregistrationRequestSchema(maxDevices);
  return parseBatchRequest(
    input,
    { maxBodyBytes: limits.maxBodyBytes, maxDevices },
    {
      csv: DEREGISTRATION_CSV,
      schema: (candidate) => {
        if (candidate.lines) candidate.input = serialsOnly(candidate.input);
        return schema;
      },
    },
  );
}
