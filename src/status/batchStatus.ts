import type { StateCounts } from "../storage/importEntities.js";

export type BatchStatus = "running" | "succeeded" | "partially_succeeded" | "failed";

/** A batch is running until every device is imported or failed, and then says how it went. */
export function batchStatus(deviceCount: number, counts: StateCounts): BatchStatus {
  const settled = counts.imported + counts.failed;
  if (settled < deviceCount) return "running";
  if (counts.failed === 0) return "succeeded";
  if (counts.imported === 0) return "failed";
  return "partially_succeeded";
}
