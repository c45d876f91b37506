import { settledCount, type StateCounts } from "./deviceState.js";

export const BATCH_STATUSES = ["running", "succeeded", "partially_succeeded", "failed", "canceled"] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];

/** A batch followed to its profiles: how many imported devices wait, got one, or did not within the limit. */
export interface ProfileProgress {
  waiting: number;
  assigned: number;
  notAssigned: number;
}

/**
 * A batch is running until every device is imported, failed or canceled, and, for a batch
 * followed until profileAssigned, until no imported device waits for its profile; then it says
 * how it went. A batch with any canceled device is `canceled`, whatever the others did: the
 * caller stopped it, and `counts` tell how far it got. For a batch followed to its profiles, an
 * imported device without a profile is not what the order asked for: the batch is then
 * `partially_succeeded`, never `succeeded`.
 */
export function batchStatus(deviceCount: number, counts: StateCounts, profiles?: ProfileProgress): BatchStatus {
  if (!isBatchFinal(deviceCount, counts, profiles)) return "running";
  if (counts.canceled > 0) return "canceled";
  if (counts.imported === 0) return counts.failed === 0 ? "succeeded" : "failed";
  if (counts.failed === 0 && (profiles?.notAssigned ?? 0) === 0) return "succeeded";
  return "partially_succeeded";
}

/** Every device final, and none still waiting for its profile. */
export function isBatchFinal(deviceCount: number, counts: StateCounts, profiles?: ProfileProgress): boolean {
  return settledCount(counts) >= deviceCount && (profiles?.waiting ?? 0) <= 0;
}
