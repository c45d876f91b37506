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
import { hasControlCharacters, isTenantId, isUserPrincipalName } from "../model/fieldRules.js";
import { findDuplicates } from "./findDuplicates.js";
import {
  HASH_CHECK_MODES,
  judgeHash,
  SERIAL_CONTRADICTS_HASH_CODE,
  serialContradiction,
  serialNumberFromHash,
  summarizeHash,
  type HashCheck,
  type JudgedHash,
} from "../model/hashRules.js";
import { CALLBACK_URL_MAX_LENGTH, callbackUrlShapeProblem } from "../model/callbackUrl.js";
import { FOLLOW_UNTIL, ON_EXISTING, type FollowUntil, type OnExisting } from "../storage/importEntities.js";
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
} from "../model/limits.js";

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
export const BATCH_FIELDS = ["tenantId", "orderIdentifier", "groupTag", "callbackUrl", "followUntil", "onExisting", "hashCheck"] as const;
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

export const serialNumberSchema = z
  .string({ error: requiredMessage })
  .trim()
  .min(1, "required")
  .max(SERIAL_NUMBER_MAX_LENGTH, atMost(SERIAL_NUMBER_MAX_LENGTH))
  .refine(...noControlCharacters)
  .describe(
    `The device's serial number as the OEM reports it (trimmed, at most ${SERIAL_NUMBER_MAX_LENGTH} characters). ` +
      "Unique within a batch, ignoring case. Must agree with the serial number inside the hardware hash (trimmed, ignoring case); " +
      "may be left out (or empty in the CSV) when the hash names one, which is then taken.",
  );

function hardwareIdentifierSchema(limits: IntakeLimits, hashCheck: HashCheck) {
  return z
    .string({ error: requiredMessage })
    .trim()
    .min(1, "required")
    .transform((value, ctx): JudgedHash => {
      if (value === "") return z.NEVER;
      const judged = judgeHash(value, limits, hashCheck);
      if (judged.ok) return judged.hash;
      ctx.addIssue({ code: "custom", message: judged.message, params: { code: judged.code } });
      return z.NEVER;
    })
    .meta({ contentEncoding: "base64" })
    .describe(
      "The 4K hardware hash (WMI MDM_DevDetail_Ext01.DeviceHardwareData, the CSV's 'Hardware Hash'): standard base64, " +
        `decoding to ${limits.hashMinBytes}-${limits.hashMaxBytes} bytes. Whitespace inside is dropped and missing '=' padding restored; ` +
        "the hash is then read and checked (layout, declared end, SHA-256 checksum) unless the batch says hashCheck=off. " +
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

export const tenantIdSchema = z.preprocess(
  blankToUndefined,
  z
    .string(stringMessage)
    .trim()
    .max(TENANT_DOMAIN_MAX_LENGTH, atMost(TENANT_DOMAIN_MAX_LENGTH))
    .refine(isTenantId, "must be the tenant's GUID or one of its domain names, such as contoso.onmicrosoft.com")
    .optional()
    .describe(
      "The Entra tenant to import into: its GUID or a domain name (contoso.onmicrosoft.com). Defaults to the service's DEFAULT_TENANT_ID.",
    ),
);

const groupTagSchema = (scope: string) =>
  optionalText(
    GROUP_TAG_MAX_LENGTH,
    `Group tag (becomes the Entra device attribute [OrderID]) ${scope}; at most ${GROUP_TAG_MAX_LENGTH} characters.`,
  );
const orderIdentifierSchema = (scope: string) =>
  optionalText(ORDER_IDENTIFIER_MAX_LENGTH, `Order identifier ${scope}; at most ${ORDER_IDENTIFIER_MAX_LENGTH} characters.`);

/**
 * The shape only; whether the host may be called (https, no private or loopback address unless
 * WEBHOOK_ALLOWED_HOSTS lets it) is decided by the intake handler, which knows the settings.
 */
export const callbackUrlSchema = z.preprocess(
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

function choiceSchema<T extends readonly [string, ...string[]]>(values: T, description: string) {
  return z.preprocess(
    (value) => (typeof value === "string" ? (isBlank(value) ? undefined : value.trim()) : value),
    z
      .enum(values, { error: `must be one of: ${values.join(", ")}` })
      .optional()
      .describe(description),
  );
}

const followUntilSchema = choiceSchema(
  FOLLOW_UNTIL,
  "How far to follow each device (default `imported`): `profileAssigned` follows each imported device to its Autopilot device until Intune assigns a deployment profile, or until the service's time limit (PROFILE_ASSIGN_TIMEOUT_MS), after which it is reported as imported without a profile.",
);
const onExistingSchema = choiceSchema(
  ON_EXISTING,
  "What to do with a device already registered in this tenant (Intune's 806; default `fail`): `update` applies the device's group tag and assigned user to the existing Autopilot device (found by serial number) and reports it imported with a note. A device registered to another tenant (808) fails either way.",
);
const hashCheckSchema = z.preprocess(
  (value) => (typeof value === "string" ? blankToUndefined(value.trim().toLowerCase()) : blankToUndefined(value)),
  z
    .enum(HASH_CHECK_MODES, { error: "must be 'on' or 'off'" })
    .optional()
    .describe(
      "'off' turns the hardware-hash refusals off for this batch (for hashes this service cannot read): hashes are then only mended (whitespace, padding) " +
        "and size-checked, nothing is read from them, and Intune judges them. Default 'on'. Shown on the batch.",
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

/** A row that leaves its serial number out takes the one its hash names (before the field rules run). */
function withSerialFromHash(hashCheck: HashCheck) {
  return (device: unknown) => {
    if (typeof device !== "object" || device === null || Array.isArray(device)) return device;
    const row = device as Record<string, unknown>;
    if (!isBlank(row.serialNumber)) return device;
    const fromHash = serialNumberFromHash(row.hardwareIdentifier, hashCheck);
    return fromHash === undefined ? device : { ...row, serialNumber: fromHash };
  };
}

/** The hash's text as stored and sent, what it tells, and whether it agrees with the row. */
function withHashFacts<T extends { serialNumber: string; hardwareIdentifier: JudgedHash }>(device: T, ctx: z.RefinementCtx) {
  const { hardwareIdentifier, ...fields } = device;
  const contradiction = serialContradiction(fields.serialNumber, hardwareIdentifier.facts);
  if (contradiction)
    ctx.addIssue({ code: "custom", path: ["serialNumber"], message: contradiction, params: { code: SERIAL_CONTRADICTS_HASH_CODE } });
  return { ...fields, hardwareIdentifier: hardwareIdentifier.value, ...summarizeHash(hardwareIdentifier.facts) };
}

export function createDeviceSubmissionSchema(limits: IntakeLimits = DEFAULT_INTAKE_LIMITS, hashCheck: HashCheck = "on") {
  const device = z
    .strictObject(
      {
        serialNumber: serialNumberSchema,
        hardwareIdentifier: hardwareIdentifierSchema(limits, hashCheck),
        productKey: optionalText(
          PRODUCT_KEY_MAX_LENGTH,
          `The Windows product ID or key (the CSV's 'Windows Product ID'); at most ${PRODUCT_KEY_MAX_LENGTH} characters. Never echoed back.`,
        ),
        groupTag: groupTagSchema("for this device; defaults to the batch's groupTag"),
        assignedUserPrincipalName: assignedUserPrincipalNameSchema,
        orderIdentifier: orderIdentifierSchema("for this device; defaults to the batch's orderIdentifier"),
        importId: optionalText(
          IMPORT_ID_MAX_LENGTH,
          `The caller's own identifier for this import; at most ${IMPORT_ID_MAX_LENGTH} characters.`,
        ),
        "@odata.type": ignored("Graph's entity type annotation (#microsoft.graph.importedWindowsAutopilotDeviceIdentity)."),
        id: ignored("Graph assigns the id."),
        state: ignored("Graph's import state; a caller never sets it."),
      },
      { error: (issue) => (issue.code === "invalid_type" ? "each device must be a JSON object" : undefined) },
    )
    .transform((fields, ctx) => withHashFacts(deviceFields(fields), ctx));
  return z
    .preprocess(withSerialFromHash(hashCheck), device)
    .describe("One Windows Autopilot device: the fields of Graph's importedWindowsAutopilotDeviceIdentity that a caller sets.");
}

/** A batch's device array: 1 to limits.maxDevices devices, no serial number (or hash) twice. */
export function devicesSchema<D extends z.ZodType>(limits: Pick<IntakeLimits, "maxDevices">, device: D, description: string) {
  return z
    .array(device, { error: (issue) => (isBlank(issue.input) ? "required: an array of devices" : "must be an array of devices") })
    .min(1, "must hold at least one device")
    .max(limits.maxDevices, `must hold at most ${limits.maxDevices} devices`)
    .superRefine(
      (devices, ctx) => {
        for (const duplicate of findDuplicates(devices.map(withHashText))) {
          const what = duplicate.field === "serialNumber" ? "serial number" : "hardware hash";
          ctx.addIssue({
            code: "custom",
            path: [duplicate.index, duplicate.field],
            message: `same ${what} as device ${duplicate.duplicateOf}`,
            params: { duplicateOf: duplicate.duplicateOf },
          });
        }
      },
      // Also when some devices failed a rule, so that every problem is reported at once.
      { when: (payload) => Array.isArray(payload.value) },
    )
    .describe(description);
}

/**
 * A device that failed a rule still holds its hash as judged (an object) or nothing usable;
 * duplicates compare the hash's canonical text.
 */
function withHashText(device: unknown): unknown {
  if (typeof device !== "object" || device === null) return device;
  const hash = (device as { hardwareIdentifier?: unknown }).hardwareIdentifier;
  if (typeof hash !== "object" || hash === null) return device;
  const value = (hash as { value?: unknown }).value;
  return { ...device, hardwareIdentifier: typeof value === "string" ? value : undefined };
}

type DeviceSchema = ReturnType<typeof createDeviceSubmissionSchema>;
type DeviceOutput = z.output<DeviceSchema>;

/**
 * `hashCheck`: which device rules to build. The batch's own hashCheck field is validated by the
 * same schema; the caller reads it first (hashCheckOf) to choose the schema. `device` is passed in so
 * both request shapes share one device schema: the OpenAPI document names it once.
 */
export function createImportRequestSchema(
  limits: IntakeLimits = DEFAULT_INTAKE_LIMITS,
  hashCheck: HashCheck = "on",
  device: DeviceSchema = createDeviceSubmissionSchema(limits, hashCheck),
) {
  return z
    .strictObject({
      tenantId: tenantIdSchema,
      orderIdentifier: orderIdentifierSchema("for the whole batch, applied to each device that names none"),
      groupTag: groupTagSchema("for the whole batch, applied to each device that names none"),
      callbackUrl: callbackUrlSchema,
      followUntil: followUntilSchema,
      onExisting: onExistingSchema,
      hashCheck: hashCheckSchema,
      devices: devicesSchema(limits, device, `The devices, 1 to ${limits.maxDevices}. All or nothing: one bad device refuses the batch.`),
    })
    .transform(({ devices, ...batch }) => {
      const request: {
        tenantId?: string;
        orderIdentifier?: string;
        groupTag?: string;
        callbackUrl?: string;
        followUntil?: FollowUntil;
        onExisting?: OnExisting;
        hashCheck?: "off";
        devices: DeviceOutput[];
      } = {
        ...(batch.tenantId === undefined ? {} : { tenantId: batch.tenantId }),
        ...(batch.hashCheck === "off" ? { hashCheck: "off" as const } : {}),
        ...(batch.callbackUrl === undefined ? {} : { callbackUrl: batch.callbackUrl }),
        ...(batch.followUntil === undefined ? {} : { followUntil: batch.followUntil }),
        ...(batch.onExisting === undefined ? {} : { onExisting: batch.onExisting }),
        ...(batch.orderIdentifier === undefined ? {} : { orderIdentifier: batch.orderIdentifier }),
        ...(batch.groupTag === undefined ? {} : { groupTag: batch.groupTag }),
        devices: devices.map((device) => ({
          ...device,
          ...(device.groupTag === undefined && batch.groupTag !== undefined ? { groupTag: batch.groupTag } : {}),
          ...(device.orderIdentifier === undefined && batch.orderIdentifier !== undefined
            ? { orderIdentifier: batch.orderIdentifier }
            : {}),
        })),
      };
      return request;
    })
    .describe("A batch of Windows Autopilot devices to import.");
}

/** Graph's import-action body; the batch fields then come from the query string. */
export function createGraphImportActionSchema(
  limits: IntakeLimits = DEFAULT_INTAKE_LIMITS,
  device: DeviceSchema = createDeviceSubmissionSchema(limits),
) {
  return z
    .strictObject({
      [GRAPH_DEVICES_FIELD]: devicesSchema(limits, device, `The devices, 1 to ${limits.maxDevices}, as Graph's import action takes them.`),
    })
    .describe(
      "The body of Graph's POST /deviceManagement/importedWindowsAutopilotDeviceIdentities/import; tenantId, groupTag, orderIdentifier, callbackUrl, followUntil, onExisting and hashCheck go in the query string.",
    );
}

export const deviceSubmissionSchema = createDeviceSubmissionSchema(DEFAULT_INTAKE_LIMITS);
export const importRequestSchema = createImportRequestSchema(DEFAULT_INTAKE_LIMITS, "on", deviceSubmissionSchema);
export const graphImportActionSchema = createGraphImportActionSchema(DEFAULT_INTAKE_LIMITS, deviceSubmissionSchema);

export type DeviceSubmission = z.output<typeof deviceSubmissionSchema>;
export type ImportRequest = z.output<typeof importRequestSchema>;

/** The batch's hashCheck, read before validation to choose the rules; a value the schema refuses counts as "on". */
export function hashCheckOf(input: Record<string, unknown>): HashCheck {
  const value = input.hashCheck;
  return typeof value === "string" && value.trim().toLowerCase() === "off" ? "off" : "on";
}
