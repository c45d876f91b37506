import type { DeviceEntity, StateCounts } from "../storage/importEntities.js";
import type { BatchSummary } from "../storage/importStore.js";
import { batchStatus } from "./batchStatus.js";
import type { BatchView, DeviceView } from "./viewSchemas.js";

export type { BatchView, DeviceView } from "./viewSchemas.js";

export function batchLinks(id: string): BatchView["links"] {
  const self = `/api/imports/${encodeURIComponent(id)}`;
  return { self, devices: `${self}/devices`, failures: `${self}/devices?status=failed` };
}

export function toBatchView(summary: BatchSummary): BatchView {
  const { batch, counts, lastUpdatedAt } = summary;
  const status = batchStatus(batch.deviceCount, counts);
  return {
    id: batch.partitionKey,
    status,
    tenantId: batch.tenantId,
    ...(batch.orderIdentifier ? { orderIdentifier: batch.orderIdentifier } : {}),
    ...(batch.groupTag ? { groupTag: batch.groupTag } : {}),
    source: batch.source,
    deviceCount: batch.deviceCount,
    counts,
    createdAt: batch.createdAt,
    ...(batch.acceptedAt ? { acceptedAt: batch.acceptedAt } : {}),
    updatedAt: lastUpdatedAt,
    ...(status === "running" ? {} : { completedAt: lastUpdatedAt }),
    ...(batch.canceledAt ? { canceledAt: batch.canceledAt } : {}),
    // Only a final batch expires; a retried one keeps an old expiry on its header until it is final again.
    ...(status !== "running" && batch.expiresAt ? { expiresAt: batch.expiresAt } : {}),
    links: batchLinks(batch.partitionKey),
  };
}

export function toDeviceView(device: DeviceEntity): DeviceView {
  const optional = <K extends keyof DeviceEntity>(key: K) => (device[key] === undefined || device[key] === null ? {} : { [key]: device[key] });
  return {
    index: device.index,
    ...optional("line"),
    serialNumber: device.serialNumber,
    state: device.state,
    attempts: device.attempts,
    ...optional("groupTag"),
    ...optional("orderIdentifier"),
    ...optional("graphId"),
    ...optional("recordMatch"),
    ...(device.graphClientRequestId
      ? { graphRequest: { ...(device.graphRequestId ? { requestId: device.graphRequestId } : {}), clientRequestId: device.graphClientRequestId } }
      : {}),
    ...optional("importStatus"),
    ...optional("deviceRegistrationId"),
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
