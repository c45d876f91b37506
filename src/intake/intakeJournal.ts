import { odata, type TableClient } from "@azure/data-tables";
import { isNotFound } from "../storage/tableErrors.js";

const PENDING_PARTITION = "pending";

export interface PendingIntake {
  batchId: string;
  startedAt: string;
  /** The batch's partner (a new batch's intake, not a retry): with startedAt, its list row's key. */
  partnerId?: string;
}

/**
 * Batches whose intake began but has not confirmed that every device reached the queue.
 * Written before anything else of a batch and removed last, so a batch can never be
 * half-accepted without the sweeper knowing of it.
 */
export class IntakeJournal {
  constructor(private readonly table: TableClient) {}

  /** `partnerId`: given by a new batch's intake, so an intake that died before its header can be erased from its partner's list too. */
  async begin(batchId: string, startedAt: string, partnerId?: string): Promise<void> {
    await this.table.upsertEntity(
      { partitionKey: PENDING_PARTITION, rowKey: batchId, startedAt, ...(partnerId ? { partnerId } : {}) },
      "Replace",
    );
  }

  async finish(batchId: string): Promise<void> {
    try {
      await this.table.deleteEntity(PENDING_PARTITION, batchId);
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  async startedBefore(cutoff: string): Promise<PendingIntake[]> {
    const found: PendingIntake[] = [];
    const rows = this.table.listEntities<{ startedAt: string; partnerId?: string }>({
      queryOptions: { filter: odata`PartitionKey eq ${PENDING_PARTITION} and startedAt lt ${cutoff}` },
    });
    for await (const row of rows)
      found.push({ batchId: row.rowKey!, startedAt: row.startedAt, ...(row.partnerId ? { partnerId: row.partnerId } : {}) });
    return found;
  }
}
