import { readNotes, type DeviceEntity } from "../storage/importEntities.js";
import type { BatchSummary } from "../storage/importStore.js";
import { batchStatus } from "../model/batchStatus.js";
import { HASH_WARNINGS, type HashWarning } from "../model/hashRules.js";
import { modelCountSchema, type BatchView, type DeviceView, type DeviceWarning, type ModelCount } from "./viewSchemas.js";

export type { BatchView, DeviceView } from "./viewSchemas.js";

export function batchLinks(id: string): BatchView["links"] {
  const self = `/api/imports/${encodeURIComponent(id)}`;
  return { self, devices: `${self}/devices`, failures: `${self}/devices?status=failed` };
}

export function toBatchView(summary: BatchSummary): BatchView {
  const { batch, counts, lastUpdatedAt } = summary;
  const followUntil = batch.followUntil ?? "imported";
  const profiles = followUntil === "profileAssigned" ? summary.profiles : undefined;
  const status = batchStatus(batch.deviceCount, counts, profiles);
  return {
    id: batch.partitionKey,
    status,
    tenantId: batch.tenantId,
    ...(batch.orderIdentifier ? { orderIdentifier: batch.orderIdentifier } : {}),
    ...(batch.groupTag ? { groupTag: batch.groupTag } : {}),
    source: batch.source,
    deviceCount: batch.deviceCount,
    counts,
    followUntil,
    onExisting: batch.onExisting ?? "fail",
    ...(profiles ? { profiles } : {}),
    createdAt: batch.createdAt,
    ...(batch.acceptedAt ? { acceptedAt: batch.acceptedAt } : {}),
    updatedAt: lastUpdatedAt,
    ...(status === "running" ? {} : { completedAt: lastUpdatedAt }),
    ...(batch.canceledAt ? { canceledAt: batch.canceledAt } : {}),
    hashCheck: batch.hashCheck === "off" ? "off" : "on",
    deviceModels: readDeviceModels(batch.deviceModels),
    // Only a final batch expires; a retried one keeps an old expiry on its header until it is final again.
    ...(status !== "running" && batch.expiresAt ? { expiresAt: batch.expiresAt } : {}),
    links: batchLinks(batch.partitionKey),
  };
}

export function toDeviceView(device: DeviceEntity): DeviceView {
  const optional = <K extends keyof DeviceEntity>(key: K) =>
    device[key] === undefined || device[key] === null ? {} : { [key]: device[key] };
  return {
    index: device.index,
    ...optional("line"),
    serialNumber: device.serialNumber,
    ...optional("manufacturer"),
    ...optional("model"),
    ...(device.warnings ? { warnings: deviceWarnings(device.warnings) } : {}),
    state: device.state,
    attempts: device.attempts,
    ...optional("groupTag"),
    ...optional("orderIdentifier"),
    ...optional("graphId"),
    ...optional("recordMatch"),
    ...(device.graphClientRequestId
      ? {
          graphRequest: {
            ...(device.graphRequestId ? { requestId: device.graphRequestId } : {}),
            clientRequestId: device.graphClientRequestId,
          },
        }
      : {}),
    ...optional("importStatus"),
    ...optional("deviceRegistrationId"),
    ...optional("autopilotDeviceId"),
    ...(device.profileState ? { profileStatus: device.profileState } : {}),
    ...(device.profileStatus ? { deploymentProfileAssignmentStatus: device.profileStatus } : {}),
    ...optional("profileAssignedAt"),
    ...(device.notes ? { notes: readNotes(device) } : {}),
    ...(device.errorCode
      ? {
          error: {
            code: device.errorCode,
            ...(device.errorName ? { name: device.errorName } : {}),
            ...(device.errorMessage ? { message: device.errorMessage } : {}),
          },
        }
      : {}),
    ...optional("nextAttemptAt"),
    ...optional("submittedAt"),
    updatedAt: device.updatedAt,
  } as DeviceView;
}

/** The header's JSON column; a batch from before it (or a damaged value) shows an empty list. */
function readDeviceModels(column: string | undefined): ModelCount[] {
  if (!column) return [];
  try {
    const parsed = modelCountSchema.array().safeParse(JSON.parse(column));
    return parsed.success ? parsed.data : [];
  } catch {
    return [];
  }
}

/** Warning codes as stored (a JSON array) with what each means; unknown codes are dropped. */
export function deviceWarnings(column: string): DeviceWarning[] {
  let codes: unknown;
  try {
    codes = JSON.parse(column);
  } catch {
    return [];
  }
  if (!Array.isArray(codes)) return [];
  return codes
    .filter((code): code is HashWarning => typeof code === "string" && Object.hasOwn(HASH_WARNINGS, code))
    .map((code) => ({ code, message: HASH_WARNINGS[code] }));
}
