import type { Logger } from "../telemetry/logging.js";
import type { DeviceMessageSender } from "../storage/deviceQueue.js";
import type { IntakeJournal } from "./intakeJournal.js";
import type { BatchIndex } from "../storage/batchIndex.js";
import type { ImportStore } from "../storage/importStore.js";
import type { TenantPacing } from "../storage/tenantPacing.js";
import { enqueueDevices, type Chunking } from "./submitBatch.js";
import { firstPoll } from "../worker/pollBatch.js";
import type { FanOutProgress } from "./fanOutProgress.js";
import type { BatchEntity } from "../storage/importEntities.js";
import type { FanOutSender } from "./fanOutMessage.js";

/**
 * An intake whose batch has no header this long after it began is dead for certain (a function
 * runs at most host.json's functionTimeout, 5 minutes): its rows are erased. Until then the
 * intake may still be writing, so its journal entry is kept for a later sweep.
 */
export const ABANDONED_INTAKE_ERASE_AFTER_MS = 10 * 60_000;

export interface SweepDeps {
  store: ImportStore;
  /** The partners' lists: an abandoned intake's row is removed from its partner's. */
  batchIndex?: Pick<BatchIndex, "remove">;
  journal: IntakeJournal;
  queue: DeviceMessageSender;
  pacing: Pick<TenantPacing, "reserve">;
  enqueueConcurrency: number;
  firstPollDelayMs: number;
  chunking?: Chunking;
  /** Fan-out progress and queue (fanOutBatch.ts): a batch whose fan-out stalled gets its open ranges sent again. */
  fanOutProgress?: FanOutProgress;
  fanOut?: FanOutSender;
  log: Logger;
  now?: () => Date;
  /** Intakes younger than this may still be running; leave them alone. */
  graceMs: number;
}

export interface SweepReport {
  finished: number;
  reenqueued: number;
  abandoned: number;
}

/**
 * Finishes intakes that died after their batch became durable: every device still `queued`
 * with no attempt gets a (possibly second) first-attempt message. A duplicate message is
 * harmless, since a worker acts only on a device that has not moved past that attempt.
 * Intakes that died before the header was written were never accepted (the caller got an
 * error): what they wrote is erased (ABANDONED_INTAKE_ERASE_AFTER_MS).
 *
 * A batch with a fan-out (fanOutBatch.ts) is finished by it: the sweeper only sends its open
 * ranges' fan-out messages again once they have not moved for the grace period (a fan-out that
 * died, or whose message was never sent), without a schedule, so they take new slots; the
 * range's progress says where to start, so no device is sent twice beyond one window.
 *
 * A retry (POST /api/imports/{id}/retry) journals itself the same way: a device it moved to
 * `retrying` may have lost its message, so every `retrying` device is sent its next attempt
 * again; if the message was not lost, one of the two copies is dropped by the message guard.
 */
export async function sweepIntake(deps: SweepDeps): Promise<SweepReport> {
  const now = deps.now?.() ?? new Date();
  const cutoff = new Date(now.getTime() - deps.graceMs).toISOString();
  const report: SweepReport = { finished: 0, reenqueued: 0, abandoned: 0 };
  for (const pending of await deps.journal.startedBefore(cutoff)) {
    const batch = await deps.store.readBatch(pending.batchId);
    if (!batch) {
      // Never accepted (the caller got an error), but its device rows, hashes and all, may be
      // written: erased, with its list row, once the intake cannot be running any more.
      if (now.getTime() - Date.parse(pending.startedAt) < ABANDONED_INTAKE_ERASE_AFTER_MS) continue;
      const rows = await deps.store.erasePartition(pending.batchId);
      if (pending.partnerId)
        await deps.batchIndex?.remove({ partnerId: pending.partnerId, batchId: pending.batchId, createdAt: pending.startedAt });
      report.abandoned++;
      deps.log.warn("intake never became durable; its rows are erased", { batchId: pending.batchId, reason: `${rows} rows` });
    } else if (batch.intakeState !== "accepted" && batch.kind === "deregistration") {
      // A deregistration batch (src/deregistration): its queued devices get their first delete attempt; no poll rounds.
      const unstarted = (await deps.store.listUnstartedDevices(pending.batchId)).filter((d) => d.attempts === 0);
      await enqueueDevices(
        deps,
        pending.batchId,
        batch.tenantId,
        unstarted.map((d) => d.rowKey),
        undefined,
        "deregister",
      );
      await deps.store.markAccepted(pending.batchId, now.toISOString());
      report.reenqueued += unstarted.length;
      deps.log.info("sweeper finished an interrupted intake", { batchId: pending.batchId, deviceCount: unstarted.length });
    } else if (
      batch.intakeState !== "accepted" &&
      deps.fanOutProgress &&
      (await resumeFanOut(deps, batch, cutoff, now, report)) === "under-way"
    ) {
      // A fan-out is still to finish: its journal entry stays until its last range is done.
      continue;
    } else if (
      batch.intakeState !== "accepted" &&
      !batch.acceptedAt &&
      deps.fanOutProgress &&
      (await deps.fanOutProgress.list(pending.batchId)).length > 0
    ) {
      // Every range was sent, and the last one died before it marked the batch.
      await deps.store.markAccepted(pending.batchId, now.toISOString());
    } else if (batch.intakeState !== "accepted") {
      const unstarted = await deps.store.listUnstartedDevices(pending.batchId);
      await enqueueDevices(
        deps,
        pending.batchId,
        batch.tenantId,
        unstarted.filter((d) => d.attempts === 0).map((d) => d.rowKey),
      );
      const retrying = await deps.store.devicesInState(pending.batchId, "retrying");
      await enqueueDevices(
        deps,
        pending.batchId,
        batch.tenantId,
        retrying.map((d) => ({ rowKey: d.rowKey, attempt: d.attempts + 1 })),
      );
      // Start the poll rounds; if intake had started them, the round guard drops one of the two.
      await deps.queue.send({ ...firstPoll(pending.batchId), attempt: (batch.pollAttempt ?? 0) + 1 }, deps.firstPollDelayMs);
      await deps.store.markAccepted(pending.batchId, now.toISOString());
      report.reenqueued += unstarted.length + retrying.length;
      deps.log.info("sweeper finished an interrupted intake", { batchId: pending.batchId, deviceCount: unstarted.length });
    }
    await deps.journal.finish(pending.batchId);
    report.finished++;
  }
  return report;
}

/**
 * A batch with open fan-out ranges: "under-way" (ranges that stalled are sent again, and the
 * poll chain started again: if intake had started it, the round guard drops one of the two);
 * "none" when it has no open range (its fan-out is complete, or it never had one).
 */
async function resumeFanOut(
  deps: SweepDeps,
  batch: BatchEntity,
  cutoff: string,
  now: Date,
  report: SweepReport,
): Promise<"under-way" | "none"> {
  const progress = deps.fanOutProgress!;
  const open = (await progress.list(batch.partitionKey)).filter((r) => !r.done);
  if (open.length === 0) return "none";
  let resumed = 0;
  for (const row of open) {
    if (row.updatedAt >= cutoff || !deps.fanOut) continue;
    if (!(await progress.takeOver(row, now.toISOString()))) continue;
    await deps.fanOut.send({
      v: 1,
      kind: "fanOut",
      batchId: batch.partitionKey,
      tenantId: batch.tenantId,
      range: row.range,
      from: row.from,
      to: row.to,
      chunkSize: row.chunkSize,
    });
    report.reenqueued += row.to - row.next;
    resumed++;
  }
  if (resumed > 0) {
    await deps.queue.send({ ...firstPoll(batch.partitionKey), attempt: (batch.pollAttempt ?? 0) + 1 }, deps.firstPollDelayMs);
    deps.log.info("sweeper resumed a stalled fan-out", { batchId: batch.partitionKey, reason: `${resumed} of ${open.length} open ranges` });
  }
  return "under-way";
}
