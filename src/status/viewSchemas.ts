/**
 * The shapes the status API answers, as zod schemas: the handlers' types are inferred from
 * these, and the OpenAPI document (src/app/openapi) is generated from the same schemas, so code and
 * contract cannot drift apart.
 */
import { z } from "zod";
import { COUNTED_STATES, DEVICE_STATES, type CountedState } from "../model/deviceState.js";
import { BATCH_STATUSES } from "../model/batchStatus.js";
import { notificationViewSchema } from "../webhooks/notificationViewSchema.js";
import { FOLLOW_UNTIL, ON_EXISTING, PROFILE_STATES } from "../storage/importEntities.js";
import { HASH_CHECK_MODES, HASH_WARNING_CODES } from "../model/hashRules.js";
import { MAX_MODEL_GROUPS } from "../model/limits.js";

const timestamp = (what: string) => z.iso.datetime().describe(what);

export const batchStatusSchema = z
  .enum(BATCH_STATUSES)
  .describe(
    "running until every device is imported, failed or canceled (and, with followUntil profileAssigned, until no imported device waits for its profile); then succeeded (all imported, and with followUntil profileAssigned each with its profile), failed (none imported), partially_succeeded, or canceled (any device canceled)",
  );

export const followUntilSchema = z
  .enum(FOLLOW_UNTIL)
  .describe(
    "How far the batch follows its devices: `imported` (Intune's import completed) or `profileAssigned` (each imported device is followed to its Autopilot device until a deployment profile is assigned, or until PROFILE_ASSIGN_TIMEOUT_MS).",
  );

export const onExistingSchema = z
  .enum(ON_EXISTING)
  .describe(
    "What happens to a device already registered in this tenant (Intune's 806): `fail` (it fails with 806) or `update` (the batch's group tag and assigned user are applied to the existing Autopilot device, found by serial number, and it ends imported with a note). A device registered in another tenant (808) fails either way.",
  );

export const profileStateSchema = z
  .enum(PROFILE_STATES)
  .describe(
    "With followUntil profileAssigned, an imported device's profile: `waiting` for Intune to assign one, `assigned` (ready to ship: the status begins with 'assigned'), or `notAssigned` (none within the time limit, or Intune reported the assignment failed; see the device's notes).",
  );

export const profileCountsSchema = z
  .object({
    waiting: z.number().int().min(0).describe("Imported devices still waiting for their profile."),
    assigned: z.number().int().min(0).describe("Imported devices with a deployment profile assigned: ready to ship."),
    notAssigned: z
      .number()
      .int()
      .min(0)
      .describe("Imported devices that got no profile within the time limit (usually: no profile targets their group tag)."),
  })
  .describe("With followUntil profileAssigned: the imported devices by profile state; they add up to counts.imported.");

export const deviceStateSchema = z.enum(DEVICE_STATES).describe("The device's state; imported, failed and canceled are final.");

export const stateCountsSchema = z
  .object(Object.fromEntries(COUNTED_STATES.map((state) => [state, z.number().int().min(0)])) as Record<CountedState, z.ZodNumber>)
  .describe(
    "How many of the batch's devices are in each state; they add up to deviceCount. `queued` includes devices in state `submitting` in the device list: in a create attempt right now, or accepted by Graph and not yet seen by the batch's next poll round.",
  );

export const batchLinksSchema = z.object({
  self: z.string().describe("This batch's status."),
  devices: z.string().describe("The batch's devices, paged (also as text/csv)."),
  failures: z.string().describe("The batch's failed devices."),
});

const hashText = (what: string) =>
  z
    .string()
    .optional()
    .describe(`${what}, as read from the hardware hash at intake (absent with hashCheck=off, or when the hash names none).`);

export const modelCountSchema = z.object({
  manufacturer: hashText("The manufacturer (SMBIOS system manufacturer)"),
  model: hashText("The model (SMBIOS product name; for some makers a machine-type code)"),
  count: z.number().int().min(1),
  otherModels: z
    .number()
    .int()
    .min(2)
    .optional()
    .describe(`Only on the last entry when the batch holds more than ${MAX_MODEL_GROUPS} models: how many further models it sums.`),
});

export const batchSourceSchema = z.enum(["json", "csv"]).describe("How the batch was submitted: JSON (either shape) or CSV.");

export const batchViewSchema = z
  .object({
    id: z.uuid(),
    status: batchStatusSchema,
    tenantId: z.string(),
    orderIdentifier: z.string().optional(),
    groupTag: z.string().optional(),
    source: batchSourceSchema,
    deviceCount: z.number().int().min(1),
    counts: stateCountsSchema,
    followUntil: followUntilSchema,
    onExisting: onExistingSchema,
    profiles: profileCountsSchema
      .optional()
      .describe("Only with followUntil profileAssigned: how many imported devices are ready (assigned), waiting, or got no profile."),
    createdAt: timestamp("When the batch was received."),
    acceptedAt: timestamp("When every device's message was queued.").optional(),
    updatedAt: timestamp("The batch's last change."),
    completedAt: timestamp("Once the batch is no longer running: when its last device settled.").optional(),
    canceledAt: timestamp("When the caller canceled the batch.").optional(),
    hashCheck: z
      .enum(HASH_CHECK_MODES)
      .describe("'off' when the batch was submitted with hashCheck=off: its hashes were not read or checked at intake."),
    deviceModels: z
      .array(modelCountSchema)
      .describe(
        `The batch's devices counted by manufacturer and model, most numerous first (at most ${MAX_MODEL_GROUPS} entries). Empty for batches from before hashes were read.`,
      ),
    expiresAt: timestamp(
      "Once the batch is final: when it will be erased, every row of it in every table (BATCH_RETENTION_DAYS after it finished; DELETE erases it sooner).",
    ).optional(),
    notification: notificationViewSchema
      .optional()
      .describe("GET /api/imports/{id} only, for a batch submitted with a callbackUrl: its completion webhook."),
    links: batchLinksSchema,
  })
  .describe("An import batch: its status and counts per device state. Costs the same for 10 devices or 10,000.");

export const deviceErrorSchema = z
  .object({
    code: z
      .string()
      .describe(
        "Intune's import error code (806, 808, …), a Graph error code (Forbidden, BadRequest, …), or one of this service's: TenantConsentRequired, TenantNotFound, RetriesExhausted, ImportTimedOut, ImportRecordMissing, ImportOwnershipUnclear, ImportLookupPending (while retrying), ProcessingFailed.",
      ),
    name: z.string().optional(),
    message: z.string().optional(),
  })
  .describe("Why the device failed (or, while retrying, why the last attempt did).");

export const deviceNoteSchema = z
  .object({
    code: z
      .enum(["AlreadyRegisteredUpdated", "AlreadyRegistered", "NoProfileAssigned"])
      .describe(
        "AlreadyRegisteredUpdated: the device was already registered in this tenant (806) and onExisting update applied the batch's group tag and user to it; AlreadyRegistered: likewise, with nothing to apply; NoProfileAssigned: imported, but no deployment profile was assigned in time.",
      ),
    message: z.string(),
  })
  .describe("Something to know about an outcome that is not a failure.");
export const deviceWarningSchema = z
  .object({
    code: z.enum(HASH_WARNING_CODES).describe("no-tpm: the hash holds no TPM data."),
    message: z.string(),
  })
  .describe("Accepted, but worth knowing before a deployment depends on it.");

export const recordMatchSchema = z
  .enum(["serialNumber"])
  .describe(
    "serialNumber: a create's answer was lost, and the outcome was read from the tenant's only imported record with this serial number, which had already finished and so may have been made by another tool. Such a record is never deleted by this service.",
  );

export const graphRequestSchema = z
  .object({
    requestId: z.string().optional().describe("Graph's request-id of the call, absent when no answer came."),
    clientRequestId: z.string().describe("The client-request-id this service sent."),
  })
  .describe(
    "The Graph call that decided the device's outcome (while retrying: its last attempt). Quote both ids in a Microsoft support case.",
  );

export const deviceViewSchema = z
  .object({
    index: z.number().int().min(0).describe("0-based position in the batch."),
    line: z.number().int().min(1).optional().describe("The CSV line it came from."),
    serialNumber: z.string(),
    manufacturer: hashText("The manufacturer"),
    model: hashText("The model"),
    warnings: z.array(deviceWarningSchema).optional(),
    state: deviceStateSchema,
    attempts: z.number().int().min(0),
    groupTag: z.string().optional(),
    orderIdentifier: z.string().optional(),
    graphId: z
      .string()
      .optional()
      .describe(
        "The id of the device's imported record in Graph: the id of its create's answer (what identifies the record; Intune's echoed importId does not).",
      ),
    recordMatch: recordMatchSchema.optional(),
    graphRequest: graphRequestSchema.optional(),
    importStatus: z.string().optional(),
    deviceRegistrationId: z.string().optional(),
    autopilotDeviceId: z
      .string()
      .optional()
      .describe(
        "The registered Autopilot device (windowsAutopilotDeviceIdentity id): the import's deviceRegistrationId, or the existing device an onExisting update changed.",
      ),
    profileStatus: profileStateSchema.optional(),
    deploymentProfileAssignmentStatus: z
      .string()
      .optional()
      .describe(
        "Intune's deploymentProfileAssignmentStatus of the Autopilot device as last read (notAssigned, pending, assignedInSync, …).",
      ),
    profileAssignedAt: timestamp("When Intune assigned the deployment profile (its deploymentProfileAssignedDateTime).").optional(),
    notes: z.array(deviceNoteSchema).optional(),
    error: deviceErrorSchema.optional(),
    nextAttemptAt: timestamp("When the next create attempt is scheduled.").optional(),
    submittedAt: timestamp("When Graph accepted the create.").optional(),
    updatedAt: timestamp("The device's last change."),
  })
  .describe("One device's outcome. Never the hardware hash, product key or user principal name.");

export const devicePageSchema = z.object({
  value: z.array(deviceViewSchema),
  nextLink: z.string().optional().describe("The next page, when there is one."),
});

export const batchPageSchema = z.object({
  value: z.array(batchViewSchema).describe("The caller's batches, newest first."),
  nextLink: z.string().optional().describe("The next page, when there is one: /api/imports?…&continuationToken=…"),
});

export const acceptedBatchSchema = z
  .object({
    id: z.uuid(),
    status: z.literal("running"),
    tenantId: z.string(),
    deviceCount: z.number().int().min(1),
    statusUrl: z.string(),
    links: batchLinksSchema,
  })
  .describe("The batch was validated, recorded and queued; poll statusUrl.");

export const dryRunDeviceSchema = z.object({
  index: z.number().int().min(0).describe("0-based position in the batch."),
  line: z.number().int().min(1).optional().describe("The CSV line it came from."),
  serialNumber: z.string().describe("As it would be imported: the row's, or the hash's for a row that gave none."),
  manufacturer: hashText("The manufacturer"),
  model: hashText("The model"),
  warnings: z.array(deviceWarningSchema).optional(),
});

export const dryRunResultSchema = z
  .object({
    dryRun: z.literal(true),
    tenantId: z.string(),
    deviceCount: z.number().int().min(1),
    hashCheck: z.enum(HASH_CHECK_MODES),
    deviceModels: z.array(modelCountSchema).describe("The devices counted by manufacturer and model, as the batch would show them."),
    devices: z.array(dryRunDeviceSchema),
  })
  .describe("POST /api/imports?dryRun=true: every check passed; nothing was recorded or queued.");

export const retryResultSchema = z.object({
  retriedDevices: z.number().int().min(1).describe("Failed devices sent again."),
  batch: batchViewSchema,
});

export const cancelResultSchema = z.object({
  canceledDevices: z.number().int().min(0).describe("Devices that had not reached Graph and are now canceled."),
  batch: batchViewSchema,
});

export type BatchView = z.infer<typeof batchViewSchema>;
export type ModelCount = z.infer<typeof modelCountSchema>;
export type DeviceWarning = z.infer<typeof deviceWarningSchema>;
export type DryRunResult = z.infer<typeof dryRunResultSchema>;
export type DeviceView = z.infer<typeof deviceViewSchema>;
export type DevicePage = z.infer<typeof devicePageSchema>;
export type BatchPage = z.infer<typeof batchPageSchema>;
export type RetryResult = z.infer<typeof retryResultSchema>;
export type AcceptedBatchBody = z.infer<typeof acceptedBatchSchema>;
export type CancelResult = z.infer<typeof cancelResultSchema>;
