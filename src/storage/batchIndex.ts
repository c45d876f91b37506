import { odata, type TableClient } from "@azure/data-tables";
import { isNotFound } from "./tableErrors.js";
import type { BatchStatus } from "../model/batchStatus.js";

/**
 * The `importsbypartner` table: one row per batch, so a partner's batches can be listed newest
 * first without touching the `imports` table's device rows.
 *
 *   PartitionKey  the partner id
 *   RowKey        inverted creation time (16 digits) + "-" + batch id: Table storage sorts rows
 *                 by RowKey ascending, so the newest batch comes first and a time range is a
 *                 RowKey range
 *   status        "running" from intake; the batch's final status once its poll rounds end
 *                 (and "running" again after a retry)
 */
export interface BatchIndexEntity {
  partitionKey: string;
  rowKey: string;
  batchId: string;
  tenantId: string;
  deviceCount: number;
  createdAt: string;
  status: BatchStatus;
}

/**
 * Later than any date JavaScript can hold (8.64e15 ms), so the inverted time is never negative,
 * and below Number.MAX_SAFE_INTEGER, so the subtraction is exact.
 */
const TIME_CEILING = 9_000_000_000_000_000;
const ROW_KEY_PATTERN = /^\d{16}-[0-9a-f-]{36}$/;

export function invertedTime(epochMs: number): string {
  return String(TIME_CEILING - epochMs).padStart(16, "0");
}

export function indexRowKey(createdAt: string, batchId: string): string {
  return `${invertedTime(Date.parse(createdAt))}-${batchId}`;
}

export function isIndexRowKey(value: string): boolean {
  return ROW_KEY_PATTERN.test(value);
}

export interface BatchIndexQuery {
  status?: BatchStatus;
  /** Exclusive bounds on the batch's creation time (epoch ms). */
  createdAfter?: number;
  createdBefore?: number;
  /** Continue after this RowKey (the last row of the previous page). */
  after?: string;
  /** Rows to return at most. */
  take: number;
}

/**
 * A time range as a RowKey range. A later time has a smaller inverted time, so "created before
 * T" means RowKeys above every key of T ("~" sorts after "-" and the id's characters), and
 * "created after T" means RowKeys below T's inverted time.
 */
export function indexFilter(partnerId: string, query: Omit<BatchIndexQuery, "take">): string {
  const parts = [odata`PartitionKey eq ${partnerId}`];
  if (query.createdBefore !== undefined) parts.push(odata`RowKey gt ${`${invertedTime(query.createdBefore)}~`}`);
  if (query.createdAfter !== undefined) parts.push(odata`RowKey lt ${invertedTime(query.createdAfter)}`);
  if (query.after !== undefined) parts.push(odata`RowKey gt ${query.after}`);
  if (query.status !== undefined) parts.push(odata`status eq ${query.status}`);
  return parts.join(" and ");
}

/** What names a batch's index row. */
export interface IndexEntry {
  partnerId: string;
  batchId: string;
  createdAt: string;
}

export class BatchIndex {
  constructor(private readonly table: TableClient) {}

  async record(entry: { partnerId: string; batchId: string; tenantId: string; deviceCount: number; createdAt: string }): Promise<void> {
    const entity: BatchIndexEntity = {
      partitionKey: entry.partnerId,
      rowKey: indexRowKey(entry.createdAt, entry.batchId),
      batchId: entry.batchId,
      tenantId: entry.tenantId,
      deviceCount: entry.deviceCount,
      createdAt: entry.createdAt,
      status: "running",
    };
    await this.table.upsertEntity(entity, "Replace");
  }

  /**
   * Records a batch's status as of now, and when it is to be erased (final batches; "" while it
   * runs again after a retry). A batch from before the index existed has no row, which is fine.
   */
  async setStatus(entry: IndexEntry, status: BatchStatus, expiresAt?: string): Promise<void> {
    await this.merge(entry, { status, expiresAt: expiresAt ?? "" });
  }

  /** When the batch is to be erased, as its header says ("" : not while it runs). */
  async setExpiry(entry: IndexEntry, expiresAt: string | undefined): Promise<void> {
    await this.merge(entry, { expiresAt: expiresAt ?? "" });
  }

  /** The batch is being erased: from now on it is found here until the erasure has finished. */
  async markErasing(entry: IndexEntry, at: string): Promise<void> {
    await this.merge(entry, { erasingAt: at });
  }

  /** The last step of an erasure. */
  async remove(entry: IndexEntry): Promise<void> {
    try {
      await this.table.deleteEntity(entry.partnerId, indexRowKey(entry.createdAt, entry.batchId));
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  /**
   * Batches to erase, across partners: past their expiry, or an erasure begun and not finished.
   * A scan of the index (one small row per batch), stopped at `take`.
   */
  async dueForErasure(now: string, take: number): Promise<(IndexEntry & { erasingAt?: string; expiresAt?: string })[]> {
    const found: (IndexEntry & { erasingAt?: string; expiresAt?: string })[] = [];
    const rows = this.table.listEntities<BatchIndexEntity & { erasingAt?: string; expiresAt?: string }>({
      queryOptions: { filter: odata`(expiresAt gt ${""} and expiresAt le ${now}) or erasingAt gt ${""}` },
    });
    for await (const row of rows) {
      found.push({
        partnerId: row.partitionKey,
        batchId: row.batchId,
        createdAt: row.createdAt,
        ...(row.erasingAt ? { erasingAt: row.erasingAt } : {}),
        ...(row.expiresAt ? { expiresAt: row.expiresAt } : {}),
      });
      if (found.length >= take) break;
    }
    return found;
  }

  /** Batches still running, across partners: a scan of the index (one small row per batch), stopped at `take`. */
  async running(take: number): Promise<IndexEntry[]> {
    const found: IndexEntry[] = [];
    const rows = this.table.listEntities<BatchIndexEntity>({ queryOptions: { filter: odata`status eq ${"running"}` } });
    for await (const row of rows) {
      found.push({ partnerId: row.partitionKey, batchId: row.batchId, createdAt: row.createdAt });
      if (found.length >= take) break;
    }
    return found;
  }

  private async merge(entry: IndexEntry, changes: Record<string, string>): Promise<void> {
    try {
      await this.table.updateEntity(
        { partitionKey: entry.partnerId, rowKey: indexRowKey(entry.createdAt, entry.batchId), ...changes },
        "Merge",
      );
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  /** Up to `take` rows, newest first; stops reading as soon as it has them. */
  async list(partnerId: string, query: BatchIndexQuery): Promise<BatchIndexEntity[]> {
    const rows: BatchIndexEntity[] = [];
    const pages = this.table
      .listEntities<BatchIndexEntity>({ queryOptions: { filter: indexFilter(partnerId, query) } })
      .byPage({ maxPageSize: Math.min(query.take, 1000) });
    for await (const page of pages) {
      for (const row of page) {
        rows.push({
          partitionKey: row.partitionKey,
          rowKey: row.rowKey,
          batchId: row.batchId,
          tenantId: row.tenantId,
          deviceCount: row.deviceCount,
          createdAt: row.createdAt,
          status: row.status,
        });
        if (rows.length >= query.take) return rows;
      }
    }
    return rows;
  }
}
