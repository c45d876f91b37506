import { randomUUID } from "node:crypto";
import type { Caller } from "../auth/caller.js";
import { problemResponse, storageUnavailable } from "../http/responses.js";
import type { AppRequest, AppResponse } from "../http/types.js";
import { acceptedResponse } from "../intake/acceptedResponse.js";
import { checkTarget, handleBatchPost, type ImportPostDeps } from "../intake/handleImportPost.js";
import { enqueueDevices } from "../intake/submitBatch.js";
import type { DeregistrationDeviceEntity, DeregistrationStore } from "./deregistrationStore.js";
import { BATCH_ROW_KEY, deviceRowKey } from "../storage/importEntities.js";
import type { ImportStore } from "../storage/importStore.js";
import { parseDeregistrationRequest, type DeregistrationRequest } from "./deregistrationRequest.js";
import { deregistrationLinks } from "./deregistrationViews.js";
import { errorMessage } from "../model/errorMessage.js";

export interface DeregistrationPostDeps extends Omit<ImportPostDeps, "store"> {
  /** The batches' table (markAccepted, as for imports) and the deregistration rows in it. */
  store: Pick<ImportStore, "markAccepted" | "readBatch">;
  deregistrations: Pick<DeregistrationStore, "writeBatch">;
}

/** Idempotency-Keys of this route are kept apart from those of POST /api/imports. */
export const DEREGISTRATION_KEY_SCOPE = "deregistrations";

export function deregistrationAccepted(
  batch: { batchId: string; tenantId: string; deviceCount: number },
  retryAfterSeconds: number,
): AppResponse {
  return acceptedResponse(batch, retryAfterSeconds, deregistrationLinks(batch.batchId));
}

/**
 * POST /api/deregistrations: the same gate as an import (authentication before this, then
 * Idempotency-Key, the partner's rate limit, the body's size), the whole batch validated, the
 * tenant checked against the partner's (403, nothing recorded, for one it may not act on), then
 * recorded and one message per device queued in the tenant's write schedule: a delete is a write.
 */
export async function handleDeregistrationPost(deps: DeregistrationPostDeps, request: AppRequest, caller: Caller): Promise<AppResponse> {
  const gate = {
    ...deps,
    ...(deps.idempotency
      ? { idempotency: { ...deps.idempotency, keyScope: DEREGISTRATION_KEY_SCOPE, accepted: deregistrationAccepted } }
      : {}),
  };
  return handleBatchPost(gate, request, caller, async (body, batchId) => {
    const parsed = parseDeregistrationRequest(
      { contentType: request.headers.get("content-type") ?? undefined, body, query: request.url.searchParams },
      deps.limits,
    );
    if (!parsed.ok) return problemResponse(parsed.problem);
    const target = checkTarget(deps, parsed.request, caller);
    if ("status" in target) return target;
    try {
      const id = await submitDeregistration(
        deps,
        { ...parsed.request, tenantId: target.tenantId, partnerId: caller.partnerId, ...(batchId ? { batchId } : {}) },
        parsed.source,
        parsed.lines,
      );
      return deregistrationAccepted(
        { batchId: id, tenantId: target.tenantId, deviceCount: parsed.request.devices.length },
        deps.retryAfterSeconds,
      );
    } catch (error) {
      deps.log.error("intake could not record the deregistration batch", { reason: errorMessage(error) });
      return storageUnavailable(deps.retryAfterSeconds);
    }
  });
}

/**
 * Records the batch and queues its devices, in the order an import batch is (submitBatch.ts):
 * journal entry, device rows, list entry and header (from here the batch is durable), messages,
 * then the journal entry goes. A failure after the header leaves the rest to the sweeper, which
 * knows a deregistration batch by its header's `kind`. Returns the batch id.
 */
export async function submitDeregistration(
  deps: Pick<DeregistrationPostDeps, "store" | "deregistrations" | "journal" | "queue" | "pacing" | "enqueueConcurrency" | "log" | "now">,
  request: DeregistrationRequest & { tenantId: string; partnerId: string; batchId?: string },
  source: "json" | "csv",
  lines?: readonly number[],
): Promise<string> {
  const batchId = request.batchId ?? randomUUID();
  const createdAt = (deps.now?.() ?? new Date()).toISOString();
  const devices: DeregistrationDeviceEntity[] = request.devices.map((device, index) => ({
    partitionKey: batchId,
    rowKey: deviceRowKey(index),
    index,
    ...(lines?.[index] ? { line: lines[index] } : {}),
    serialNumber: device.serialNumber,
    tenantId: request.tenantId,
    state: "queued",
    attempts: 0,
    createdAt,
    updatedAt: createdAt,
  }));
  await deps.journal.begin(batchId, createdAt, request.partnerId);
  await deps.deregistrations.writeBatch(
    {
      partitionKey: batchId,
      rowKey: BATCH_ROW_KEY,
      kind: "deregistration",
      partnerId: request.partnerId,
      tenantId: request.tenantId,
      deviceCount: devices.length,
      source,
      intakeState: "enqueueing",
      createdAt,
      ...(request.callbackUrl ? { callbackUrl: request.callbackUrl } : {}),
    },
    devices,
    deps.enqueueConcurrency,
  );
  const fields = { batchId, tenantId: request.tenantId, partnerId: request.partnerId, deviceCount: devices.length };
  try {
    await enqueueDevices(
      deps,
      batchId,
      request.tenantId,
      devices.map((d) => d.rowKey),
      undefined,
      "deregister",
    );
    await deps.store.markAccepted(batchId, (deps.now?.() ?? new Date()).toISOString());
    await deps.journal.finish(batchId);
  } catch (error) {
    deps.log.warn("deregistration batch is durable but not fully enqueued; the sweeper will finish it", {
      ...fields,
      reason: errorMessage(error),
    });
    return batchId;
  }
  deps.log.info("deregistration batch accepted", fields);
  return batchId;
}
