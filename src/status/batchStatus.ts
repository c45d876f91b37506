import type { StateCounts } from "../storage/importEntities.js";
import { settledCount } from "../worker/deviceState.js";

export const BATCH_STATUSES = ["running", "succeeded", "partially_succeeded", "failed", "canceled"] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];

/**
 * A batch is running until every device is imported, failed or canceled, and then says how it
 * went. A batch with any canceled device is `canceled`, whatever the others did: the caller
 * stopped it, and `counts` tell how far it got.
 */
export function batchStatus(deviceCount: number, counts: StateCounts): BatchStatus {
  if (settledCount(counts) < deviceCount) return "running";
  if (counts.canceled > 0) return "canceled";
  if (counts.failed === 0) return "succeeded";
  if (counts.imported === 0) return "failed";
  return "partially_succeeded";
}
