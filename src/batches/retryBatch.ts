import type { Caller } from "../auth/caller.js";
import { problem, ProblemType } from "../http/problem.js";
import { json, notFound, problemResponse } from "../http/responses.js";
import type { AppResponse } from "../http/types.js";
import { enqueueDevices } from "../intake/submitBatch.js";
import { batchStatus } from "../model/batchStatus.js";
import { ownedBy } from "../status/statusHandlers.js";
import { toBatchView } from "../status/statusViews.js";
import type { RetryResult } from "../status/viewSchemas.js";
import { firstPoll } from "../worker/pollBatch.js";
import type { BatchActionDeps } from "./batchActionDeps.js";
import { isBatchId } from "../status/batchId.js";
import { isRetryable, mayHaveRecord, RETRYABLE_ERROR_CODES } from "./retryableFailures.js";

/**
 * POST /api/imports/{id}/retry: sends the batch's retryable failures (retryableFailures.ts)
 * through Graph again, as new attempts of the same devices, in the tenant's write budget.
 *
 * Only a finished batch is retried (409 while it runs: its own retries are still going), never a
 * canceled one (409), and 409 when none of its failures is retryable. Each device moves
 * failed → retrying through the store's transitions, so the counts stay exact; of two
 * concurrent retries each device moves once, and only the request that moved it sends its
 * message. The intake journal covers the sends: if this process dies before they are all out,
 * the sweeper sends them.
 */
export async function retryBatch(deps: BatchActionDeps, id: string, caller: Caller): Promise<AppResponse> {
  const summary = isBatchId(id) ? await deps.store.readSummary(id) : undefined;
  if (!summary || !ownedBy(summary.batch, caller)) return notFound(`No import batch has the id '${id.slice(0, 64)}'.`);
  const { batch } = summary;
  if (batch.canceledAt) {
    return problemResponse(
      problem(
        ProblemType.batchCanceled,
        409,
        "Batch canceled",
        "A canceled batch is not retried; submit its devices again as a new batch.",
      ),
    );
  }
  if (batchStatus(batch.deviceCount, summary.counts, summary.profiles) === "running") {
    return problemResponse(
      problem(
        ProblemType.batchStillRunning,
        409,
        "Batch still running",
        "The batch is still running and retries its own transient failures; retry it once it has finished.",
      ),
      { "retry-after": String(deps.retryAfterSeconds) },
    );
  }
  const candidates = (await deps.store.devicesInState(id, "failed")).filter(isRetryable);
  if (candidates.length === 0) {
    return problemResponse(
      problem(
        ProblemType.nothingToRetry,
        409,
        "Nothing to retry",
        `None of the batch's failures can be cured by a retry (retryable: ${RETRYABLE_ERROR_CODES.join(", ")}); the others need the device data or the tenant fixed.`,
      ),
    );
  }

  const at = (deps.now?.() ?? new Date()).toISOString();
  await deps.journal.begin(id, at);
  await deps.store.reopenIntake(id);
  const moved = new Set(
    await deps.store.moveDevices(
      candidates.map((device) => ({
        device,
        changes: {
          state: "retrying" as const,
          failures: 0,
          inDoubt: mayHaveRecord(device) || undefined,
          // Its last create came just before it failed.
          inDoubtSince: mayHaveRecord(device) ? device.updatedAt : undefined,
          claimedBy: undefined,
          errorCode: undefined,
          errorName: undefined,
          errorMessage: undefined,
          nextAttemptAt: at,
          updatedAt: at,
        },
      })),
    ),
  );
  const retried = candidates.filter((device) => moved.has(device.rowKey));
  if (retried.length === 0) {
    // Another request moved every one of them a moment ago and sends their messages; its journal
    // entry is the same row as ours, so it is left for that request (or the sweeper) to close.
    return problemResponse(problem(ProblemType.nothingToRetry, 409, "Nothing to retry", "Another request has just retried these devices."));
  }
  await deps.store.recordStatus(batch, "running");
  // Running again: not to be erased until it is final again.
  await deps.store.recordExpiry(id, undefined);
  await enqueueDevices(
    deps,
    id,
    batch.tenantId,
    retried.map((device) => ({ rowKey: device.rowKey, attempt: device.attempts + 1 })),
  );
  // The batch's poll chain ended with it; a new round number starts it again (a duplicate is dropped by the round guard).
  const fresh = await deps.store.readBatch(id);
  await deps.queue.send({ ...firstPoll(id), attempt: (fresh?.pollAttempt ?? batch.pollAttempt ?? 0) + 1 }, deps.firstPollDelayMs);
  await deps.store.markAccepted(id, batch.acceptedAt ?? at);
  await deps.journal.finish(id);
  deps.log.info("batch retried", { batchId: id, tenantId: batch.tenantId, partnerId: caller.partnerId, deviceCount: retried.length });
  const after = await deps.store.readSummary(id);
  const body: RetryResult = { retriedDevices: retried.length, batch: toBatchView(after ?? summary) };
  return json(202, body, { location: body.batch.links.self, "retry-after": String(deps.retryAfterSeconds) });
}
