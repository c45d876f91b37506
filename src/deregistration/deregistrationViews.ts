/**
 * What GET /api/deregistrations… answers, as zod schemas (the OpenAPI document is generated from
 * them), and the pure functions that build those views from stored rows.
 */
import { z } from "zod";
import type { DeregistrationDeviceEntity, DeregistrationSummary } from "./deregistrationStore.js";
import { batchLinksSchema, batchSourceSchema, deviceErrorSchema, graphRequestSchema } from "../status/viewSchemas.js";
import { notificationViewSchema } from "../webhooks/notificationViewSchema.js";
import { DEREGISTRATION_STATES, deregistrationBatchStatus, type DeregistrationState } from "./deregistrationState.js";

const timestamp = (what: string) => z.iso.datetime().describe(what);

/** The webhook event a deregistration batch's callbackUrl receives. */
export const DEREGISTRATION_EVENT_TYPE = "deregistration.completed" as const;

export const deregistrationStateSchema = z
  .enum(DEREGISTRATION_STATES)
  .describe(
    "queued; deregistering (looking up its Autopilot device by serial number and deleting it, or waiting to try again); then, final: deregistered (deleted), not_found (the tenant has no Autopilot device with this serial number) or failed (see error: e.g. still enrolled in Intune).",
  );

export const deregistrationStatusSchema = z
  .enum(["running", "succeeded", "partially_succeeded", "failed"])
  .describe(
    "running until every device is final; then succeeded (every device deregistered), failed (none deregistered) or partially_succeeded.",
  );

export const deregistrationCountsSchema = z
  .object(
    Object.fromEntries(DEREGISTRATION_STATES.map((state) => [state, z.number().int().min(0)])) as Record<DeregistrationState, z.ZodNumber>,
  )
  .describe("How many of the batch's devices are in each state; they add up to deviceCount.");

export const deregistrationNotificationSchema = notificationViewSchema
  .extend({ eventType: z.literal(DEREGISTRATION_EVENT_TYPE).optional() })
  .describe("The batch's completion webhook (only for a batch submitted with a callbackUrl).");

export const deregistrationViewSchema = z
  .object({
    id: z.uuid(),
    status: deregistrationStatusSchema,
    tenantId: z.string(),
    source: batchSourceSchema,
    deviceCount: z.number().int().min(1),
    counts: deregistrationCountsSchema,
    createdAt: timestamp("When the batch was received."),
    acceptedAt: timestamp("When every device's message was queued.").optional(),
    updatedAt: timestamp("The batch's last change."),
    completedAt: timestamp("Once the batch is no longer running: when its last device settled.").optional(),
    expiresAt: timestamp("Once the batch is final: when it will be erased (BATCH_RETENTION_DAYS after it finished).").optional(),
    notification: deregistrationNotificationSchema.optional(),
    links: batchLinksSchema,
  })
  .describe("A deregistration batch (returns, resales, repair swaps): its status and counts per device state.");

export const deregistrationDeviceViewSchema = z
  .object({
    index: z.number().int().min(0).describe("0-based position in the batch."),
    line: z.number().int().min(1).optional().describe("The CSV line it came from."),
    serialNumber: z.string(),
    state: deregistrationStateSchema,
    attempts: z.number().int().min(0),
    autopilotDeviceId: z
      .string()
      .optional()
      .describe("The Autopilot device (windowsAutopilotDeviceIdentity id) found by serial number: deleted when deregistered."),
    deregisteredAt: timestamp("When its Autopilot device was deleted.").optional(),
    error: deviceErrorSchema
      .optional()
      .describe(
        "Why the device failed, or why it was not found (code NotFound), or while deregistering why the last attempt did not finish. Codes: Intune's (BadRequest: e.g. still enrolled in Intune), SerialNumberNotUnique, TenantNotAllowed, TenantConsentRequired, TenantNotFound, NetworkError, ProcessingFailed.",
      ),
    graphRequest: graphRequestSchema.optional(),
    nextAttemptAt: timestamp("While deregistering after a transient failure: when it is tried again.").optional(),
    updatedAt: timestamp("The device's last change."),
  })
  .describe("One device of a deregistration batch and its outcome.");

export const deregistrationDevicePageSchema = z.object({
  value: z.array(deregistrationDeviceViewSchema),
  nextLink: z.string().optional().describe("The next page, when there is one."),
});

export const deregistrationPageSchema = z.object({
  value: z.array(deregistrationViewSchema).describe("The caller's deregistration batches, newest first."),
  nextLink: z.string().optional().describe("The next page, when there is one."),
});

export type DeregistrationView = z.output<typeof deregistrationViewSchema>;
export type DeregistrationDeviceView = z.output<typeof deregistrationDeviceViewSchema>;

export function deregistrationLinks(id: string): DeregistrationView["links"] {
  const self = `/api/deregistrations/${encodeURIComponent(id)}`;
  return { self, devices: `${self}/devices`, failures: `${self}/devices?status=failed` };
}

export function toDeregistrationView(summary: DeregistrationSummary): DeregistrationView {
  const { batch, counts, lastUpdatedAt } = summary;
  const status = deregistrationBatchStatus(batch.deviceCount, counts);
  return {
    id: batch.partitionKey,
    status,
    tenantId: batch.tenantId,
    source: batch.source,
    deviceCount: batch.deviceCount,
    counts,
    createdAt: batch.createdAt,
    ...(batch.acceptedAt ? { acceptedAt: batch.acceptedAt } : {}),
    updatedAt: lastUpdatedAt,
    ...(status === "running" ? {} : { completedAt: lastUpdatedAt }),
    ...(status !== "running" && batch.expiresAt ? { expiresAt: batch.expiresAt } : {}),
    links: deregistrationLinks(batch.partitionKey),
  };
}

export function toDeregistrationDeviceView(device: DeregistrationDeviceEntity): DeregistrationDeviceView {
  return {
    index: device.index,
    ...(device.line ? { line: device.line } : {}),
    serialNumber: device.serialNumber,
    state: device.state,
    attempts: device.attempts,
    ...(device.autopilotDeviceId ? { autopilotDeviceId: device.autopilotDeviceId } : {}),
    ...(device.deregisteredAt ? { deregisteredAt: device.deregisteredAt } : {}),
    ...(device.errorCode ? { error: { code: device.errorCode, ...(device.errorMessage ? { message: device.errorMessage } : {}) } } : {}),
    ...(device.graphClientRequestId
      ? {
          graphRequest: {
            ...(device.graphRequestId ? { requestId: device.graphRequestId } : {}),
            clientRequestId: device.graphClientRequestId,
          },
        }
      : {}),
    ...(device.nextAttemptAt ? { nextAttemptAt: device.nextAttemptAt } : {}),
    updatedAt: device.updatedAt,
  };
}
