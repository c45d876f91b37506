import type { Caller } from "../auth/caller.js";
import { problem, ProblemType } from "../http/problem.js";
import { json, notFound, problemResponse } from "../http/responses.js";
import type { AppResponse } from "../http/types.js";
import { batchStatus } from "../model/batchStatus.js";
import { ownedBy } from "../status/statusHandlers.js";
import { toBatchView } from "../status/statusViews.js";
import type { CancelResult } from "../status/viewSchemas.js";
import type { BatchActionDeps } from "./batchActionDeps.js";
import { isBatchId } from "../status/batchId.js";
import { CANCELABLE_STATES } from "../storage/importEntities.js";

/**
 * POST /api/imports/{id}/cancel: devices that have not reached Graph (queued, retrying) end as
 * `canceled`. A device an attempt holds (submitting) finishes that attempt: if it then fails
 * transiently, the worker sees the header's canceledAt and cancels it instead of retrying.
 * Devices Graph accepted (submitted), or may have (retrying after a create whose answer was
 * lost), are followed to their end as usual.
 *
 * The header is marked first, so a device that slips from queued to submitting meanwhile is
 * still caught by the worker; each cancel is an ETag-conditional transition with its counter
 * shard, so a device a worker claimed at the same moment is left to the worker and the counts
 * stay exact. Devices still in pages (a batch whose fan-out is running, devicePages.ts) are
 * canceled by the fan-out as it writes their rows (fanOutBatch.ts), and not counted here.
 * Canceling again is harmless (200 with the devices it canceled, maybe none);
 * a batch that has already finished answers 409.
 */
export async function cancelBatch(deps: BatchActionDeps, id: string, caller: Caller): Promise<AppResponse> {
  const summary = isBatchId(id) ? await deps.store.readSummary(id) : undefined;
  if (!summary || !ownedBy(summary.batch, caller)) return notFound(`No import batch has the id '${id.slice(0, 64)}'.`);
  const { batch } = summary;
  const status = batchStatus(batch.deviceCount, summary.counts, summary.profiles);
  if (status !== "running") {
    return problemResponse(
      problem(
        ProblemType.batchAlreadyFinished,
        409,
        "Batch already finished",
        `The batch has finished (${status}); there is nothing left to cancel.`,
      ),
    );
  }
  const at = (deps.now?.() ?? new Date()).toISOString();
  if (!batch.canceledAt) await deps.store.markCanceled(id, at);
  let canceled = 0;
  for (const state of CANCELABLE_STATES) {
    // A retrying device whose last create may have gone through (inDoubt) may already be in Graph:
    // it finishes normally, so a record of ours is never left unfollowed.
    canceled += (await deps.store.cancelDevices(await deps.store.devicesInState(id, state), at)).length;
  }
  deps.log.info("batch canceled", { batchId: id, tenantId: batch.tenantId, partnerId: caller.partnerId, deviceCount: canceled });
  const after = (await deps.store.readSummary(id)) ?? summary;
  const body: CancelResult = { canceledDevices: canceled, batch: toBatchView(after) };
  return json(200, body);
}
