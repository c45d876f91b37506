/**
 * The one source of truth for what POST /api/imports accepts: these zod schemas validate every
 * batch (JSON, Graph's import-action shape, or CSV mapped onto the same fields) and will feed the
 * OpenAPI document (`z.toJSONSchema(schema, { io: "input" })`).
 *
 * The hash size and batch size come from IntakeLimits (settings), so the schemas are built by
 * factories; the exported constants use DEFAULT_INTAKE_LIMITS.
 *
 * Messages never contain the value they judge: hashes, product keys and UPNs are secrets or
 * personal data, and a problem body ends up in logs and partner tickets.
 */
import { z } from "zod";
import { base64Problem, decodedBase64Length } from "./base64.js";
import { hasControlCharacters, isTenantId, isUserPrincipalName } from "./fieldRules.js";
import { findDuplicates } from "./findDuplicates.js";
import { CALLBACK_URL_MAX_LENGTH, callbackUrlShapeProblem } from "../webhooks/callbackUrl.js";
import {
  DEFAULT_INTAKE_LIMITS,
  GROUP_TAG_MAX_LENGTH,
  IMPORT_ID_MAX_LENGTH,
  ORDER_IDENTIFIER_MAX_LENGTH,
  PRODUCT_KEY_MAX_LENGTH,
  SERIAL_NUMBER_MAX_LENGTH,
  TENANT_DOMAIN_MAX_LENGTH,
  UPN_MAX_LENGTH,
  type IntakeLimits,
} from "./limits.js";

/** Device fields a caller may set. */
export const DEVICE_FIELDS = [
  "serialNumber",
  "hardwareIdentifier",
  "productKey",
  "groupTag",
  "assignedUserPrincipalName",
  "orderIdentifier",
  "importId",
] as const;
/** Device fields Graph's own samples send; accepted and ignored (the service owns id and state). */
export const IGNORED_DEVICE_FIELDS = ["@odata.type", "id", "state"] as const;
/** Batch-level fields: in the JSON body, or in the query string for CSV and Graph's shape. */
export const BATCH_FIELDS = ["tenantId", "orderIdentifier", "groupTag", "callbackUrl"] as const;
export const DEVICES_FIELD = "devices";
/** The one parameter of Graph's import action. */
export const GRAPH_DEVICES_FIELD = "importedWindowsAutopilotDeviceIdentities";

/** Names callers use for device fields, for "did you mean" hints (matched ignoring case, spaces, '_', '-', '.'). */
export const DEVICE_FIELD_ALIASES: Readonly<Record<string, string>> = {
  serial: "serialNumber",
  deviceSerialNumber: "serialNumber",
  hash: "hardwareIdentifier",
  hardwareHash: "hardwareIdentifier",
  hwid: "hardwareIdentifier",
  deviceHardwareData: "hardwareIdentifier",
  windowsProductId: "productKey",
  productId: "productKey",
  upn: "assignedUserPrincipalName",
  assignedUser: "assignedUserPrincipalName",
  userPrincipalName: "assignedUserPrincipalName",
  orderId: "orderIdentifier",
  tag: "groupTag",
};

const isBlank = (value: unknown) => value === null || value === undefined || (typeof value === "string" && value.trim() === "");
/** Optional fields: null, "" and all-blank strings mean "absent". */
const blankToUndefined = (value: unknown) => (isBlank(value) ? undefined : value);

const requiredMessage = (issue: { input?: unknown }) => (isBlank(issue.input) ? "required" : "must be a string");
const stringMessage = { error: "must be a string" };
const noControlCharacters = [(s: string) => !hasControlCharacters(s), "must not contain control characters or line breaks"] as const;
const atMost = (max: number) => `must be at most ${max} characters`;

function optionalText(max: number, description: string) {
  return z.preprocess(
    blankToUndefined,
    z
      .string(stringMessage)
      .trim()
      .max(max, atMost(max))
      .refine(...noControlCharacters)
      .optional()
      .describe(description),
  );
}

const serialNumberSchema = z
  .string({ error: requiredMessage })
  .trim()
  .min(1, "required")
  .max(SERIAL_NUMBER_MAX_LENGTH, atMost(SERIAL_NUMBER_MAX_LENGTH))
  .refine(...noControlCharacters)
  .describe(
    `The device's serial number as the OEM reports it (trimmed, at most ${SERIAL_NUMBER_MAX_LENGTH} characters). ` +
      "Unique within a batch, ignoring case.",
  );

function hardwareIdentifierSchema(limits: IntakeLimits) {
  return z
    .string({ error: requiredMessage })
    .trim()
    .min(1, "required")
    .superRefine((value, ctx) => {
      if (value === "") return;
      const problem = base64Problem(value);
      if (problem !== undefined) {
        ctx.addIssue({ code: "custom", message: problem });
        return;
      }
      const bytes = decodedBase64Length(value);
      if (bytes < limits.hashMinBytes || bytes > limits.hashMaxBytes) {
        ctx.addIssue({
          code: "custom",
          message: `decodes to ${bytes} bytes; a hardware hash decodes to between ${limits.hashMinBytes} and ${limits.hashMaxBytes} bytes`,
        });
      }
    })
    .meta({ contentEncoding: "base64" })
    .describe(
      "The 4K hardware hash (WMI MDM_DevDetail_Ext01.DeviceHardwareData, the CSV's 'Hardware Hash'): strict standard base64 " +
        `with padding and no whitespace inside, decoding to ${limits.hashMinBytes}-${limits.hashMaxBytes} bytes. ` +
        "Unique within a batch. Never echoed back.",
    );
}

const assignedUserPrincipalNameSchema = z.preprocess(
  blankToUndefined,
  z
    .string(stringMessage)
    .trim()
    .max(UPN_MAX_LENGTH, atMost(UPN_MAX_LENGTH))
    .refine(isUserPrincipalName, "must be a user principal name such as user@contoso.com (no spaces)")
    .optional()
    .describe(`The user the device is assigned to, as a UPN (user@contoso.com, at most ${UPN_MAX_LENGTH} characters). Never echoed back.`),
);

const tenantIdSchema = z.preprocess(
  blankToUndefined,
  z
    .string(stringMessage)
    .trim()
    .max(TENANT_DOMAIN_MAX_LENGTH, atMost(TENANT_DOMAIN_MAX_LENGTH))
    .refine(isTenantId, "must be the tenant's GUID or one of its domain names, such as contoso.onmicrosoft.com")
    .optional()
    .describe("The Entra tenant to import into: its GUID or a domain name (contoso.onmicrosoft.com). Defaults to the service's DEFAULT_TENANT_ID."),
);

const groupTagSchema = (scope: string) =>
  optionalText(GROUP_TAG_MAX_LENGTH, `Group tag (becomes the Entra device attribute [OrderID]) ${scope}; at most ${GROUP_TAG_MAX_LENGTH} characters.`);
const orderIdentifierSchema = (scope: string) =>
  optionalText(ORDER_IDENTIFIER_MAX_LENGTH, `Order identifier ${scope}; at most ${ORDER_IDENTIFIER_MAX_LENGTH} characters.`);

/**
 * The shape only; whether the host may be called (https, no private or loopback address unless
 * WEBHOOK_ALLOWED_HOSTS lets it) is decided by the intake handler, which knows the settings.
 */
const callbackUrlSchema = z.preprocess(
  blankToUndefined,
  z
    .string(stringMessage)
    .trim()
    .superRefine((value, ctx) => {
      const problem = callbackUrlShapeProblem(value);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    })
    .optional()
    .meta({ format: "uri" })
    .describe(
      `Where to POST a signed \`import.completed\` event (Standard Webhooks) when the batch reaches its final status: an https URL of at most ${CALLBACK_URL_MAX_LENGTH} characters, ` +
        "without credentials, not pointing at a private, loopback or link-local address. Only its host is ever shown back.",
    ),
);

const ignored = (what: string) => z.unknown().optional().describe(`${what} Accepted and ignored.`);

/** Keeps the caller's fields, dropping the ignored ones and any that ended up undefined. */
function deviceFields<T extends Record<string, unknown>>(device: T) {
  const { "@odata.type": _odataType, id: _id, state: _state, ...fields } = device;
  for (const key of Object.keys(fields) as (keyof typeof fields)[]) {
    if (fields[key] === undefined) delete fields[key];
  }
  return fields;
}

export function createDeviceSubmissionSchema(limits: IntakeLimits = DEFAULT_INTAKE_LIMITS) {
  return z
    .strictObject(
      {
        serialNumber: serialNumberSchema,
        hardwareIdentifier: hardwareIdentifierSchema(limits),
        productKey: optionalText(
          PRODUCT_KEY_MAX_LENGTH,
          `The Windows product ID or key (the CSV's 'Windows Product ID'); at most ${PRODUCT_KEY_MAX_LENGTH} characters. Never echoed back.`,
        ),
        groupTag: groupTagSchema("for this device; defaults to the batch's groupTag"),
        assignedUserPrincipalName: assignedUserPrincipalNameSchema,
        orderIdentifier: orderIdentifierSchema("for this device; defaults to the batch's orderIdentifier"),
        importId: optionalText(IMPORT_ID_MAX_LENGTH, `The caller's own identifier for this import; at most ${IMPORT_ID_MAX_LENGTH} characters.`),
        "@odata.type": ignored("Graph's entity type annotation (#microsoft.graph.importedWindowsAutopilotDeviceIdentity)."),
        id: ignored("Graph assigns the id."),
        state: ignored("Graph's import state; a caller never sets it."),
      },
      { error: (issue) => (issue.code === "invalid_type" ? "each device must be a JSON object" : undefined) },
    )
    .transform(deviceFields)
    .describe("One Windows Autopilot device: the fields of Graph's importedWindowsAutopilotDeviceIdentity that a caller sets.");
}

function devicesSchema(limits: IntakeLimits, device: DeviceSchema, description: string) {
  return z
    .array(device, { error: (issue) => (isBlank(issue.input) ? "required: an array of devices" : "must be an array of devices") })
    .min(1, "must hold at least one device")
    .max(limits.maxDevices, `must hold at most ${limits.maxDevices} devices`)
    .superRefine((devices, ctx) => {
      for (const duplicate of findDuplicates(devices)) {
        const what = duplicate.field === "serialNumber" ? "serial number" : "hardware hash";
        ctx.addIssue({
          code: "custom",
          path: [duplicate.index, duplicate.field],
          message: `same ${what} as device ${duplicate.duplicateOf}`,
          params: { duplicateOf: duplicate.duplicateOf },
        });
      }
    })
    .describe(description);
}

type DeviceSchema = ReturnType<typeof createDeviceSubmissionSchema>;
type DeviceOutput = z.output<DeviceSchema>;

/** `device` is passed in so both request shapes share one device schema: the OpenAPI document names it once. */
export function createImportRequestSchema(limits: IntakeLimits = DEFAULT_INTAKE_LIMITS, device: DeviceSchema = createDeviceSubmissionSchema(limits)) {
  return z
    .strictObject({
      tenantId: tenantIdSchema,
      orderIdentifier: orderIdentifierSchema("for the whole batch, applied to each device that names none"),
      groupTag: groupTagSchema("for the whole batch, applied to each device that names none"),
      callbackUrl: callbackUrlSchema,
      devices: devicesSchema(limits, device, `The devices, 1 to ${limits.maxDevices}. All or nothing: one bad device refuses the batch.`),
    })
    .transform(({ devices, ...batch }) => {
      const request: { tenantId?: string; orderIdentifier?: string; groupTag?: string; callbackUrl?: string; devices: DeviceOutput[] } = {
        ...(batch.tenantId === undefined ? {} : { tenantId: batch.tenantId }),
        ...(batch.callbackUrl === undefined ? {} : { callbackUrl: batch.callbackUrl }),
        ...(batch.orderIdentifier === undefined ? {} : { orderIdentifier: batch.orderIdentifier }),
        ...(batch.groupTag === undefined ? {} : { groupTag: batch.groupTag }),
        devices: devices.map((device) => ({
          ...device,
          ...(device.groupTag === undefined && batch.groupTag !== undefined ? { groupTag: batch.groupTag } : {}),
          ...(device.orderIdentifier === undefined && batch.orderIdentifier !== undefined ? { orderIdentifier: batch.orderIdentifier } : {}),
        })),
      };
      return request;
    })
    .describe("A batch of Windows Autopilot devices to import.");
}

/** Graph's import-action body; the batch fields then come from the query string. */
export function createGraphImportActionSchema(limits: IntakeLimits = DEFAULT_INTAKE_LIMITS, device: DeviceSchema = createDeviceSubmissionSchema(limits)) {
  return z
    .strictObject({
      [GRAPH_DEVICES_FIELD]: devicesSchema(limits, device, `The devices, 1 to ${limits.maxDevices}, as Graph's import action takes them.`),
    })
    .describe(
      "The body of Graph's POST /deviceManagement/importedWindowsAutopilotDeviceIdentities/import; tenantId, groupTag and orderIdentifier go in the query string.",
    );
}

export const deviceSubmissionSchema = createDeviceSubmissionSchema(DEFAULT_INTAKE_LIMITS);
export const importRequestSchema = createImportRequestSchema(DEFAULT_INTAKE_LIMITS, deviceSubmissionSchema);
export const graphImportActionSchema = createGraphImportActionSchema(DEFAULT_INTAKE_LIMITS, deviceSubmissionSchema);

export type DeviceSubmission = z.output<typeof deviceSubmissionSchema>;
export type ImportRequest = z.output<typeof importRequestSchema>;
