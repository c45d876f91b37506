import { odata, type TableClient } from "@azure/data-tables";
import { ifFound, isNotFound, isPreconditionFailed } from "../storage/tableErrors.js";

/**
 * A batch's fan-out progress: one row per range in the batch's own partition of the `imports`
 * table (RowKey "fanout-NNNN"), written with the device rows at intake (no extra transaction) and
 * moved by the worker that sends the range's device messages, after each window it sent.
 * `next`: the first device whose message may not have gone yet. A redelivered or repeated fan-out
 * message starts there, so at most one window's messages are sent twice (and a device's second
 * message is dropped by the worker's claim). Every move is conditional on the row's ETag: a worker
 * that finds it moved stops, someone else has the range.
 */
export const FANOUT_ROW_PREFIX = "fanout-";

export function fanOutRowKey(range: number): string {
  return `${FANOUT_ROW_PREFIX}${String(range).padStart(4, "0")}`;
}

export interface FanOutProgressEntity {
  partitionKey: string;
  rowKey: string;
  range: number;
  from: number;
  to: number;
  next: number;
  done: boolean;
  /** Devices per chunk (write slot) the range was cut for: its windows start on its chunks. */
  chunkSize: number;
  updatedAt: string;
}

export type StoredFanOutProgress = FanOutProgressEntity & { etag: string };

/** The rows intake writes with a batch's devices: every range at its start. */
export function initialProgressRows(
  batchId: string,
  ranges: readonly { range: number; from: number; to: number }[],
  chunkSize: number,
  at: string,
): FanOutProgressEntity[] {
  return ranges.map(({ range, from, to }) => ({
    partitionKey: batchId,
    rowKey: fanOutRowKey(range),
    range,
    from,
    to,
    next: from,
    done: false,
    chunkSize,
    updatedAt: at,
  }));
}

export class FanOutProgress {
  constructor(private readonly table: TableClient) {}

  async read(batchId: string, range: number): Promise<StoredFanOutProgress | undefined> {
    const row = await ifFound(() => this.table.getEntity<FanOutProgressEntity>(batchId, fanOutRowKey(range)));
    return row ? { ...row, etag: row.etag } : undefined;
  }

  /** Every range of the batch (none: a batch from before the fan-out, or a retry's intake). */
  async list(batchId: string): Promise<StoredFanOutProgress[]> {
    const found: StoredFanOutProgress[] = [];
    const rows = this.table.listEntities<FanOutProgressEntity>({
      queryOptions: {
        filter: odata`PartitionKey eq ${batchId} and RowKey ge ${FANOUT_ROW_PREFIX} and RowKey lt ${FANOUT_ROW_PREFIX + "~"}`,
      },
    });
    for await (const row of rows) found.push(row as StoredFanOutProgress);
    return found;
  }

  /**
   * Records that every device before `next` was sent (done: the whole range). Returns the row's new
   * ETag, or undefined when the row moved since `etag` (another worker has the range) or is gone
   * (the batch was erased).
   */
  async advance(row: StoredFanOutProgress, next: number, at: string): Promise<string | undefined> {
    try {
      const response = await this.table.updateEntity(
        { partitionKey: row.partitionKey, rowKey: row.rowKey, next, done: next >= row.to, updatedAt: at },
        "Merge",
        { etag: row.etag },
      );
      return response.etag;
    } catch (error) {
      if (isPreconditionFailed(error) || isNotFound(error)) return undefined;
      throw error;
    }
  }

  /**
   * The sweeper takes a range over: a fresh updatedAt (so the next sweep leaves it alone for a
   * while) and a new ETag, which stops a worker still on it at its next window. False when the
   * row moved since it was read (the range is alive) or is gone.
   */
  async takeOver(row: StoredFanOutProgress, at: string): Promise<boolean> {
    return (await this.advance(row, row.next, at)) !== undefined;
  }
}
