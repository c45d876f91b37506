import type { Logger } from "../logging.js";
import type { DeviceMessageSender } from "../storage/deviceQueue.js";
import type { IntakeJournal } from "../storage/intakeJournal.js";
import type { ImportStore } from "../storage/importStore.js";
import type { TenantPacing } from "../storage/tenantPacing.js";
import { enqueueDevices, type Chunking } from "./submitBatch.js";
import { firstPoll } from "../worker/pollBatch.js";

export interface SweepDeps {
  store: ImportStore;
  journal: IntakeJournal;
  queue: DeviceMessageSender;
  pacing: Pick<TenantPacing, "reserve">;
  enqueueConcurrency: number;
  firstPollDelayMs: number;
  chunking?: Chunking;
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
 * error), so they are only forgotten.
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
      report.abandoned++;
      deps.log.warn("intake never became durable; forgetting it", { batchId: pending.batchId });
    } else if (batch.intakeState !== "accepted") {
      const unstarted = await deps.store.listUnstartedDevices(pending.batchId);
      await enqueueDevices(deps, pending.batchId, batch.tenantId, unstarted.filter((d) => d.attempts === 0).map((d) => d.rowKey));
      const retrying = await deps.store.devicesInState(pending.batchId, "retrying");
      await enqueueDevices(deps, pending.batchId, batch.tenantId, retrying.map((d) => ({ rowKey: d.rowKey, attempt: d.attempts + 1 })));
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
