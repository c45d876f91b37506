/**
 * The shapes the status API answers, as zod schemas: the handlers' types are inferred from
 * these, and the OpenAPI document (src/openapi) is generated from the same schemas, so code and
 * contract cannot drift apart.
 */
import { z } from "zod";
import { COUNTED_STATES, DEVICE_STATES, type CountedState } from "../worker/deviceState.js";
import { BATCH_STATUSES } from "./batchStatus.js";
import { notificationViewSchema } from "../webhooks/notificationViewSchema.js";

const timestamp = (what: string) => z.iso.datetime().describe(what);

export const batchStatusSchema = z
  .enum(BATCH_STATUSES)
  .describe("running until every device is imported, failed or canceled; then succeeded (all imported), failed (none imported), partially_succeeded, or canceled (any device canceled)");

export const deviceStateSchema = z.enum(DEVICE_STATES).describe("The device's state; imported, failed and canceled are final.");

export const stateCountsSchema = z
  .object(Object.fromEntries(COUNTED_STATES.map((state) => [state, z.number().int().min(0)])) as Record<CountedState, z.ZodNumber>)
  .describe("How many of the batch's devices are in each state; they add up to deviceCount. `queued` includes devices in state `submitting` in the device list: in a create attempt right now, or accepted by Graph and not yet seen by the batch's next poll round.");

export const batchLinksSchema = z.object({
  self: z.string().describe("This batch's status."),
  devices: z.string().describe("The batch's devices, paged (also as text/csv)."),
  failures: z.string().describe("The batch's failed devices."),
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
    createdAt: timestamp("When the batch was received."),
    acceptedAt: timestamp("When every device's message was queued.").optional(),
    updatedAt: timestamp("The batch's last change."),
    completedAt: timestamp("Once the batch is no longer running: when its last device settled.").optional(),
    canceledAt: timestamp("When the caller canceled the batch.").optional(),
    notification: notificationViewSchema.optional().describe("GET /api/imports/{id} only, for a batch submitted with a callbackUrl: its completion webhook."),
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

export const recordMatchSchema = z
  .enum(["serialNumber"])
  .describe("serialNumber: a create's answer was lost, and the outcome was read from the tenant's only imported record with this serial number, which had already finished and so may have been made by another tool. Such a record is never deleted by this service.");

export const graphRequestSchema = z
  .object({
    requestId: z.string().optional().describe("Graph's request-id of the call, absent when no answer came."),
    clientRequestId: z.string().describe("The client-request-id this service sent."),
  })
  .describe("The Graph call that decided the device's outcome (while retrying: its last attempt). Quote both ids in a Microsoft support case.");

export const deviceViewSchema = z
  .object({
    index: z.number().int().min(0).describe("0-based position in the batch."),
    line: z.number().int().min(1).optional().describe("The CSV line it came from."),
    serialNumber: z.string(),
    state: deviceStateSchema,
    attempts: z.number().int().min(0),
    groupTag: z.string().optional(),
    orderIdentifier: z.string().optional(),
    graphId: z.string().optional().describe("The id of the device's imported record in Graph: the id of its create's answer (what identifies the record; Intune's echoed importId does not)."),
    recordMatch: recordMatchSchema.optional(),
    graphRequest: graphRequestSchema.optional(),
    importStatus: z.string().optional(),
    deviceRegistrationId: z.string().optional(),
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

export const retryResultSchema = z.object({
  retriedDevices: z.number().int().min(1).describe("Failed devices sent again."),
  batch: batchViewSchema,
});

export const cancelResultSchema = z.object({
  canceledDevices: z.number().int().min(0).describe("Devices that had not reached Graph and are now canceled."),
  batch: batchViewSchema,
});

export type BatchView = z.infer<typeof batchViewSchema>;
export type DeviceView = z.infer<typeof deviceViewSchema>;
export type DevicePage = z.infer<typeof devicePageSchema>;
export type BatchPage = z.infer<typeof batchPageSchema>;
export type RetryResult = z.infer<typeof retryResultSchema>;
export type AcceptedBatchBody = z.infer<typeof acceptedBatchSchema>;
export type CancelResult = z.infer<typeof cancelResultSchema>;
