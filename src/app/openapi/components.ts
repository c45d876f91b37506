import { z } from "zod";
import { fieldProblemSchema, problemDetailsSchema } from "../../http/problemSchema.js";
import { deviceSubmissionSchema, graphImportActionSchema, importRequestSchema } from "../../intake/deviceSchema.js";
import {
  acceptedBatchSchema,
  batchLinksSchema,
  batchPageSchema,
  batchSourceSchema,
  batchStatusSchema,
  batchViewSchema,
  cancelResultSchema,
  deviceErrorSchema,
  deviceNoteSchema,
  devicePageSchema,
  deviceStateSchema,
  deviceViewSchema,
  followUntilSchema,
  graphRequestSchema,
  onExistingSchema,
  profileCountsSchema,
  profileStateSchema,
  deviceWarningSchema,
  dryRunResultSchema,
  modelCountSchema,
  recordMatchSchema,
  retryResultSchema,
  stateCountsSchema,
} from "../../status/viewSchemas.js";
import { deliveryAttemptSchema, notificationStateSchema, notificationViewSchema } from "../../webhooks/notificationViewSchema.js";
import { deregistrationDeviceSchema, deregistrationRequestSchema } from "../../deregistration/deregistrationRequest.js";
import {
  deregistrationCountsSchema,
  deregistrationDevicePageSchema,
  deregistrationDeviceViewSchema,
  deregistrationNotificationSchema,
  deregistrationPageSchema,
  deregistrationStateSchema,
  deregistrationStatusSchema,
  deregistrationViewSchema,
} from "../../deregistration/deregistrationViews.js";
import type { JsonSchema } from "./operationSpec.js";

/**
 * The schemas partners hold, by the names generated clients give them (`components.schemas`).
 * Kept in registries of their own rather than zod's global one: the intake builds its schemas
 * from settings with factories, and a global id would follow whichever copy was built last.
 * Requests are described as the server reads them (io "input"), answers as it writes them
 * ("output"), so each side has its own registry.
 */
export const requestComponents = z.registry<{ id: string }>();
export const responseComponents = z.registry<{ id: string }>();

requestComponents
  .add(importRequestSchema, { id: "ImportRequest" })
  .add(graphImportActionSchema, { id: "GraphImportRequest" })
  .add(deviceSubmissionSchema, { id: "ImportDevice" })
  .add(deregistrationRequestSchema, { id: "DeregistrationRequest" })
  .add(deregistrationDeviceSchema, { id: "DeregistrationDevice" });

responseComponents
  .add(acceptedBatchSchema, { id: "AcceptedBatch" })
  .add(batchViewSchema, { id: "Batch" })
  .add(batchStatusSchema, { id: "BatchStatus" })
  .add(batchSourceSchema, { id: "BatchSource" })
  .add(stateCountsSchema, { id: "BatchCounts" })
  .add(followUntilSchema, { id: "FollowUntil" })
  .add(onExistingSchema, { id: "OnExisting" })
  .add(profileCountsSchema, { id: "ProfileCounts" })
  .add(profileStateSchema, { id: "ProfileStatus" })
  .add(deviceNoteSchema, { id: "DeviceNote" })
  .add(batchLinksSchema, { id: "BatchLinks" })
  .add(batchPageSchema, { id: "BatchPage" })
  .add(notificationViewSchema, { id: "Notification" })
  .add(notificationStateSchema, { id: "NotificationState" })
  .add(deliveryAttemptSchema, { id: "DeliveryAttempt" })
  .add(deviceViewSchema, { id: "Device" })
  .add(deviceStateSchema, { id: "DeviceState" })
  .add(deviceErrorSchema, { id: "DeviceError" })
  .add(deviceWarningSchema, { id: "DeviceWarning" })
  .add(modelCountSchema, { id: "ModelCount" })
  .add(dryRunResultSchema, { id: "DryRunResult" })
  .add(graphRequestSchema, { id: "GraphRequest" })
  .add(recordMatchSchema, { id: "RecordMatch" })
  .add(devicePageSchema, { id: "DevicePage" })
  .add(retryResultSchema, { id: "RetryResult" })
  .add(cancelResultSchema, { id: "CancelResult" })
  .add(deregistrationViewSchema, { id: "Deregistration" })
  .add(deregistrationStatusSchema, { id: "DeregistrationStatus" })
  .add(deregistrationCountsSchema, { id: "DeregistrationCounts" })
  .add(deregistrationNotificationSchema, { id: "DeregistrationNotification" })
  .add(deregistrationDeviceViewSchema, { id: "DeregistrationDeviceOutcome" })
  .add(deregistrationStateSchema, { id: "DeregistrationState" })
  .add(deregistrationPageSchema, { id: "DeregistrationPage" })
  .add(deregistrationDevicePageSchema, { id: "DeregistrationDevicePage" })
  .add(problemDetailsSchema, { id: "Problem" })
  .add(fieldProblemSchema, { id: "FieldProblem" });

export const componentRef = (id: string) => `#/components/schemas/${id}`;

/** The registered schema's `$ref`, or undefined for a schema that is not a component. */
export function refOf(schema: z.ZodType): { $ref: string } | undefined {
  const id = requestComponents.get(schema)?.id ?? responseComponents.get(schema)?.id;
  return id === undefined ? undefined : { $ref: componentRef(id) };
}

function convert(registry: typeof requestComponents, io: "input" | "output"): Record<string, JsonSchema> {
  const { schemas } = z.toJSONSchema(registry, { io, unrepresentable: "any", uri: componentRef });
  // zod stamps each component with its uri as `$id`; in an OpenAPI document the component's key is its name.
  return Object.fromEntries(Object.entries(schemas).map(([id, { $id: _id, $schema: _dialect, ...schema }]) => [id, schema as JsonSchema]));
}

/** `components.schemas` of the document. */
export function componentSchemas(): Record<string, JsonSchema> {
  return { ...convert(requestComponents, "input"), ...convert(responseComponents, "output") };
}
