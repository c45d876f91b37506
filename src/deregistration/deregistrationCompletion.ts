import type { Logger } from "../telemetry/logging.js";
import type { DeregistrationStore } from "./deregistrationStore.js";
import type { ImportStore } from "../storage/importStore.js";
import { recordFinalEvent, type NotifyDeps } from "../status/notifyBatch.js";
import { DEREGISTRATION_EVENT_TYPE, toDeregistrationView } from "./deregistrationViews.js";

export interface CompletionDeps {
  deregistrations: Pick<DeregistrationStore, "hasUnsettled" | "readSummary" | "index">;
  /** The header lives in the `imports` table: its expiry is written as an import batch's is. */
  store: Pick<ImportStore, "recordExpiry">;
  /** BATCH_RETENTION_DAYS, in ms: a final batch is erased this long after its last device settled. */
  retentionMs: number;
  /** The completion webhook (a batch with a callbackUrl). */
  notify: Omit<NotifyDeps, "store">;
  log: Logger;
}

/**
 * Called after a device of a deregistration batch became final (and again on every copy of that
 * message): once no device is left unsettled, the batch's expiry goes on its header and its list
 * row, and its `deregistration.completed` event is recorded. Two devices settling at once may
 * both get here; each step is the same for both (the expiry is computed from the batch's last
 * change, and the event is recorded once per completedAt), so the second changes nothing.
 */
export async function finishIfSettled(deps: CompletionDeps, batchId: string): Promise<"running" | "finished" | "missing"> {
  if (await deps.deregistrations.hasUnsettled(batchId)) return "running";
  const summary = await deps.deregistrations.readSummary(batchId);
  if (!summary || summary.batch.erasingAt) return "missing";
  const view = toDeregistrationView(summary);
  if (view.status === "running" || !view.completedAt) return "running";
  const expiresAt = new Date(Date.parse(view.completedAt) + deps.retentionMs).toISOString();
  if (summary.batch.expiresAt !== expiresAt) {
    await deps.store.recordExpiry(batchId, expiresAt);
    await deps.deregistrations.index.setStatus(
      { partnerId: summary.batch.partnerId, batchId, createdAt: summary.batch.createdAt },
      view.status,
      expiresAt,
    );
    deps.log.info("deregistration batch finished", {
      batchId,
      tenantId: summary.batch.tenantId,
      partnerId: summary.batch.partnerId,
      state: view.status,
    });
  }
  await recordFinalEvent(deps.notify, batchId, async () => ({ view: { ...view, expiresAt }, type: DEREGISTRATION_EVENT_TYPE }));
  return "finished";
}
