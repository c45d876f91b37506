import type { Caller } from "../auth/caller.js";
import { problem, ProblemType } from "../http/problem.js";
import { notFound, problemResponse } from "../http/responses.js";
import type { AppResponse } from "../http/types.js";
import type { Logger } from "../telemetry/logging.js";
import type { BatchIndex, IndexEntry } from "../storage/batchIndex.js";
import type { IdempotencyStore } from "../intake/idempotencyStore.js";
import type { ImportStore } from "../storage/importStore.js";
import type { IntakeJournal } from "../intake/intakeJournal.js";
import { batchStatus } from "../model/batchStatus.js";
import { ownedBy } from "../status/statusHandlers.js";
import { isBatchId } from "../status/batchId.js";
import { errorMessage } from "../model/errorMessage.js";

export interface ErasureDeps {
  store: Pick<ImportStore, "markErasing" | "erasePartition" | "readBatch" | "readSummary">;
  index: Pick<BatchIndex, "markErasing" | "remove" | "dueForErasure" | "setExpiry">;
  idempotency: Pick<IdempotencyStore, "deleteForBatch">;
  journal: Pick<IntakeJournal, "finish">;
  log: Logger;
  now?: () => Date;
}

/**
 * What one run of the expiry timer does at most: it starts erasing batches until it has erased
 * this many, or deleted this many rows; a batch it starts it finishes (at most 10,000 devices,
 * 101 transactions). The timer runs every 10 minutes, so up to 7,200 batches a day are erased.
 */
export const ERASURES_PER_RUN = 50;
export const ERASED_ROWS_PER_RUN = 20_000;

/**
 * Erases a batch from every table: its partition of `imports` (devices, counters, webhook event,
 * header last), the Idempotency-Key records that answered for it, an intake journal entry, and
 * its row in the partner's list. Marked first, in the list and on the header, so the batch is
 * answered as not found from that moment, and a crash midway is found again (the list row says
 * "erasing") and finished by the expiry timer. Each step tolerates what an earlier run removed.
 */
export async function eraseBatch(deps: ErasureDeps, entry: IndexEntry): Promise<number> {
  await markErasing(deps, entry);
  return finishErasure(deps, entry);
}

async function markErasing(deps: ErasureDeps, entry: IndexEntry): Promise<void> {
  const at = (deps.now?.() ?? new Date()).toISOString();
  await deps.index.markErasing(entry, at);
  await deps.store.markErasing(entry.batchId, at);
}

async function finishErasure(deps: ErasureDeps, entry: IndexEntry): Promise<number> {
  const rows = await deps.store.erasePartition(entry.batchId);
  const keys = await deps.idempotency.deleteForBatch(entry.partnerId, entry.batchId);
  await deps.journal.finish(entry.batchId);
  await deps.index.remove(entry);
  deps.log.info("batch erased", {
    batchId: entry.batchId,
    partnerId: entry.partnerId,
    reason: `${rows} rows, ${keys} Idempotency-Key records`,
  });
  return rows;
}

/**
 * DELETE /api/imports/{id}: the owner erases a finished batch now (204). A running batch is
 * refused (409): its devices are still on their way to Graph, and erasing them would leave
 * imports nobody follows; cancel it first. Once the erasure is marked the answer is 204 even if
 * the rest fails: the batch is already gone for every reader, and the expiry timer finishes it.
 */
export async function eraseBatchRequest(deps: ErasureDeps, id: string, caller: Caller): Promise<AppResponse> {
  const summary = isBatchId(id) ? await deps.store.readSummary(id) : undefined;
  if (!summary || !ownedBy(summary.batch, caller)) return notFound(`No import batch has the id '${id.slice(0, 64)}'.`);
  if (batchStatus(summary.batch.deviceCount, summary.counts) === "running") {
    return problemResponse(
      problem(
        ProblemType.batchStillRunning,
        409,
        "Batch still running",
        "The batch is still running; cancel it (POST /api/imports/{id}/cancel), then erase it once it has finished.",
      ),
    );
  }
  const entry = { partnerId: summary.batch.partnerId, batchId: id, createdAt: summary.batch.createdAt };
  await markErasing(deps, entry);
  try {
    await finishErasure(deps, entry);
  } catch (error) {
    deps.log.warn("erasure interrupted; the expiry timer finishes it", { batchId: id, reason: errorMessage(error) });
  }
  return { status: 204 };
}

/**
 * The expiry timer: erases batches past their `expiresAt`, and finishes erasures a crash (or a
 * failed step after a DELETE's 204) interrupted, up to ERASURES_PER_RUN batches or
 * ERASED_ROWS_PER_RUN rows a run; the next run takes the rest. The list row is only a pointer: a
 * batch that runs again (a retry) since its row said expired is left, and its row corrected.
 * Returns how many batches it erased.
 */
export async function eraseDueBatches(deps: ErasureDeps): Promise<number> {
  const now = (deps.now?.() ?? new Date()).toISOString();
  let erased = 0;
  let rows = 0;
  for (const entry of await deps.index.dueForErasure(now, ERASURES_PER_RUN)) {
    if (rows >= ERASED_ROWS_PER_RUN) break;
    if (!entry.erasingAt) {
      const header = await deps.store.readBatch(entry.batchId);
      if (header && !header.erasingAt && !(header.expiresAt && header.expiresAt <= now)) {
        await deps.index.setExpiry(entry, header.expiresAt || undefined);
        continue;
      }
    }
    rows += await eraseBatch(deps, entry);
    erased++;
  }
  return erased;
}
