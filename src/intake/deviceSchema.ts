import { z } from "zod";
import { FIELD_LIMITS, type IntakeLimits } from "./limits.js";

/**
 * The one definition of what a batch may contain: it validates requests, gives the types, and
 * (with its descriptions) will feed the OpenAPI document.
 */

const emptyAsAbsent = (value: unknown) => (typeof value === "string" && value.trim() === "" ? undefined : value);
const trimmed = (max: number) => z.string().trim().max(max, `must be at most ${max} characters`);
const optionalText = (max: number, description: string) => z.preprocess(emptyAsAbsent, trimmed(max).optional()).describe(description);

const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const UPN = /^[^\s@]+@[^\s@.]+(?:\.[^\s@.]+)+$/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;

/** Decoded size of a base64 string already known to be strict base64. */
export function base64DecodedLength(value: string): number {
  const padding = value.endsWith("==") ? 2 : value.endsWith("=") ? 1 : 0;
  return (value.length / 4) * 3 - padding;
}

export const tenantIdSchema = z
  .string()
  .trim()
  .refine((v) => GUID.test(v) || DOMAIN.test(v), "must be a tenant GUID or a domain such as contoso.onmicrosoft.com")
  .describe("The Entra tenant to import into: its GUID or a verified domain.");

/** Fields Graph's own bodies carry that a caller may send but that mean nothing here. */
export const IGNORED_DEVICE_FIELDS = ["@odata.type", "id", "state"] as const;

export function deviceSubmissionSchema(limits: Pick<IntakeLimits, "hashMinBytes" | "hashMaxBytes">) {
  return z.strictObject({
    serialNumber: z
      .string({ error: "required" })
      .trim()
      .min(1, "required")
      .max(FIELD_LIMITS.serialNumber, `must be at most ${FIELD_LIMITS.serialNumber} characters`)
      .describe("The device's serial number, as the OEM reports it."),
    hardwareIdentifier: z
      .string({ error: "required" })
      .trim()
      .min(1, "required")
      .refine((v) => STRICT_BASE64.test(v), "must be strict base64 (standard alphabet, correct padding, no whitespace)")
      .refine(
        (v) => !STRICT_BASE64.test(v) || base64DecodedLength(v) >= limits.hashMinBytes,
        `decodes to fewer than ${limits.hashMinBytes} bytes: it looks truncated`,
      )
      .refine(
        (v) => !STRICT_BASE64.test(v) || base64DecodedLength(v) <= limits.hashMaxBytes,
        `decodes to more than ${limits.hashMaxBytes} bytes`,
      )
      .describe("The 4K hardware hash (WMI MDM_DevDetail_Ext01.DeviceHardwareData), base64."),
    productKey: optionalText(FIELD_LIMITS.productKey, "Windows product key or product ID (the CSV's 'Windows Product ID')."),
    groupTag: optionalText(FIELD_LIMITS.groupTag, "Group tag; becomes the Entra device attribute [OrderID]."),
    assignedUserPrincipalName: z
      .preprocess(
        emptyAsAbsent,
        trimmed(FIELD_LIMITS.assignedUserPrincipalName)
          .refine((v) => UPN.test(v), "must be a user principal name such as user@contoso.com")
          .optional(),
      )
      .describe("The user the device is assigned to (user principal name)."),
    orderIdentifier: optionalText(FIELD_LIMITS.orderIdentifier, "The partner's order id; kept with the outcome."),
    importId: optionalText(FIELD_LIMITS.importId, "Graph's importId for the imported record."),
  });
}

export type DeviceSubmission = z.output<ReturnType<typeof deviceSubmissionSchema>>;

const batchFields = {
  tenantId: z.preprocess(emptyAsAbsent, tenantIdSchema.optional()),
  orderIdentifier: optionalText(FIELD_LIMITS.orderIdentifier, "Applied to devices that have no orderIdentifier."),
  groupTag: optionalText(FIELD_LIMITS.groupTag, "Applied to devices that have no groupTag."),
};

/** The batch-level fields; for CSV and Graph's import-action shape they come from the query string. */
export const batchFieldsSchema = z.strictObject(batchFields);

/**
 * The JSON body's envelope. Devices are validated one by one afterwards (so every problem is
 * found with its index), hence `z.array(z.unknown())` here.
 */
export const importRequestSchema = z.strictObject({
  ...batchFields,
  devices: z.array(z.unknown()).describe("The devices to import."),
});

/** Graph's own import-action body, accepted unchanged. */
export const graphImportActionSchema = z.strictObject({
  importedWindowsAutopilotDeviceIdentities: z.array(z.unknown()),
});

export interface ImportRequest {
  tenantId?: string;
  orderIdentifier?: string;
  groupTag?: string;
  devices: DeviceSubmission[];
}
