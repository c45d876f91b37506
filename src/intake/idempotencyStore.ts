import { odata, type TableClient } from "@azure/data-tables";
import { keyRowKey, type IdempotencyRecord } from "./idempotencyKey.js";
import { isConflict, isNotFound, isPreconditionFailed } from "../storage/tableErrors.js";

/**
 * Idempotency-Key records in the `idempotencykeys` table: PartitionKey partnerId (keys are per
 * partner), RowKey SHA-256 of the key. A claim is an insert, which Table storage refuses when the
 * row exists, so of two concurrent requests with one key exactly one holds it; every later change
 * is ETag-conditional.
 */
interface KeyEntity {
  partitionKey: string;
  rowKey: string;
  fingerprint: string;
  state: "in-flight" | "done";
  batchId: string;
  claimedAt: number;
  expiresAt: number;
  responseStatus?: number;
  responseHeaders?: string;
  responseBody?: string;
}

export type Claim = { kind: "claimed"; etag: string } | { kind: "exists"; record: IdempotencyRecord; etag: string };

export interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export class IdempotencyStore {
  constructor(private readonly table: TableClient) {}

  /** Inserts an in-flight record, or returns the one already there. */
  async claim(partnerId: string, key: string, record: IdempotencyRecord): Promise<Claim> {
    for (;;) {
      try {
        const created = await this.table.createEntity(toEntity(partnerId, key, record));
        return { kind: "claimed", etag: created.etag! };
      } catch (error) {
        if (!isConflict(error)) throw error;
      }
      const existing = await this.read(partnerId, key);
      // Deleted between our insert and our read (released by a failing first request): insert again.
      if (existing) return { kind: "exists", ...existing };
    }
  }

  /** Replaces a dead or expired record with ours; false if someone else changed it first. */
  async takeOver(partnerId: string, key: string, etag: string, record: IdempotencyRecord): Promise<{ etag: string } | undefined> {
    try {
      const replaced = await this.table.updateEntity(toEntity(partnerId, key, record), "Replace", { etag });
      return { etag: replaced.etag! };
    } catch (error) {
      if (isPreconditionFailed(error) || isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** Records the answer. False if the claim was lost meanwhile (taken over after the lease). */
  async complete(partnerId: string, key: string, etag: string, response: StoredResponse): Promise<boolean> {
    try {
      await this.table.updateEntity(
        {
          partitionKey: partnerId,
          rowKey: keyRowKey(key),
          state: "done",
          responseStatus: response.status,
          responseHeaders: JSON.stringify(response.headers),
          responseBody: response.body,
        },
        "Merge",
        { etag },
      );
      return true;
    } catch (error) {
      if (isPreconditionFailed(error) || isNotFound(error)) return false;
      throw error;
    }
  }

  /** Gives the key up (the request was refused, nothing was recorded), so it may be used again. */
  async release(partnerId: string, key: string, etag: string): Promise<void> {
    try {
      await this.table.deleteEntity(partnerId, keyRowKey(key), { etag });
    } catch (error) {
      if (!isPreconditionFailed(error) && !isNotFound(error)) throw error;
    }
  }

  async read(partnerId: string, key: string): Promise<{ record: IdempotencyRecord; etag: string } | undefined> {
    try {
      const entity = await this.table.getEntity<KeyEntity>(partnerId, keyRowKey(key));
      return { record: fromEntity(entity), etag: entity.etag };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** Deletes the partner's records that answered for this batch (its erasure); returns how many. */
  async deleteForBatch(partnerId: string, batchId: string): Promise<number> {
    let deleted = 0;
    const rows = this.table.listEntities<KeyEntity>({
      queryOptions: { filter: odata`PartitionKey eq ${partnerId} and batchId eq ${batchId}`, select: ["PartitionKey", "RowKey"] },
    });
    for await (const row of rows) {
      try {
        await this.table.deleteEntity(row.partitionKey!, row.rowKey!);
        deleted++;
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
    return deleted;
  }

  /** Deletes records past their expiry; returns how many. */
  async deleteExpired(now: number): Promise<number> {
    let deleted = 0;
    const rows = this.table.listEntities<KeyEntity>({
      queryOptions: { filter: odata`expiresAt lt ${now}`, select: ["PartitionKey", "RowKey"] },
    });
    for await (const row of rows) {
      try {
        await this.table.deleteEntity(row.partitionKey!, row.rowKey!);
        deleted++;
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
    return deleted;
  }
}

function toEntity(partnerId: string, key: string, record: IdempotencyRecord): KeyEntity {
  return {
    partitionKey: partnerId,
    rowKey: keyRowKey(key),
    fingerprint: record.fingerprint,
    state: record.state,
    batchId: record.batchId,
    claimedAt: record.claimedAt,
    expiresAt: record.expiresAt,
  };
}

function fromEntity(entity: KeyEntity): IdempotencyRecord {
  return {
    fingerprint: entity.fingerprint,
    state: entity.state,
    batchId: entity.batchId,
    claimedAt: entity.claimedAt,
    expiresAt: entity.expiresAt,
    ...(entity.state === "done" && entity.responseStatus !== undefined
      ? {
          response: {
            status: entity.responseStatus,
            headers: JSON.parse(entity.responseHeaders ?? "{}") as Record<string, string>,
            body: entity.responseBody ?? "",
          },
        }
      : {}),
  };
}
