import { odata, type TableClient, type TableEntity, type TransactionAction } from "@azure/data-tables";
import {
  canMoveDeregistration,
  emptyDeregistrationCounts,
  type DeregistrationCounts,
  type DeregistrationState,
} from "./deregistrationState.js";
import type { BatchIndex } from "../storage/batchIndex.js";
import { BATCH_ROW_KEY, DEVICE_ROW_PREFIX, type BatchEntity } from "../storage/importEntities.js";
import { DeviceChangedError, forEachLimited } from "../storage/importStore.js";
import { ifFound, isPreconditionFailed } from "../storage/tableErrors.js";

/**
 * A deregistration batch lives in the `imports` table like an import batch, one partition per
 * batch: the header (RowKey "batch", `kind: "deregistration"`), one row per device
 * ("device-NNNNNN") and, with a callbackUrl, the webhook row ("webhook"), so the webhook event
 * store, the intake journal's sweeper and the retention of batches serve both kinds. No counter
 * shards: a deregistration batch holds at most DEREGISTRATION_MAX_DEVICES devices, and its counts
 * are one query of their `state` column.
 */
export type DeregistrationBatchEntity = Pick<
  BatchEntity,
  | "partitionKey"
  | "rowKey"
  | "partnerId"
  | "tenantId"
  | "deviceCount"
  | "source"
  | "intakeState"
  | "createdAt"
  | "acceptedAt"
  | "callbackUrl"
  | "expiresAt"
  | "erasingAt"
> & { kind: "deregistration" };

/** A device to deregister: a serial number and what became of it. Nothing secret: no hash, product key or UPN is ever asked for. */
export interface DeregistrationDeviceFields {
  index: number;
  /** The CSV line it came from. */
  line?: number;
  serialNumber: string;
  tenantId: string;
  state: DeregistrationState;
  /** Attempts begun so far. */
  attempts: number;
  /** The Autopilot device (windowsAutopilotDeviceIdentity id) found by serial number, deleted when `deregistered`. */
  autopilotDeviceId?: string;
  errorCode?: string;
  errorMessage?: string;
  graphRequestId?: string;
  graphClientRequestId?: string;
  nextAttemptAt?: string;
  deregisteredAt?: string;
  createdAt: string;
  updatedAt: string;
}

export interface DeregistrationDeviceEntity extends DeregistrationDeviceFields {
  partitionKey: string;
  rowKey: string;
}

export type StoredDeregistrationDevice = DeregistrationDeviceEntity & { etag: string };

export interface DeregistrationSummary {
  batch: DeregistrationBatchEntity;
  counts: DeregistrationCounts;
  lastUpdatedAt: string;
}

const TRANSACTION_LIMIT = 100;
const deviceRange = (batchId: string) =>
  odata`PartitionKey eq ${batchId} and RowKey ge ${DEVICE_ROW_PREFIX} and RowKey lt ${DEVICE_ROW_PREFIX + "~"}`;

export class DeregistrationStore {
  /** `imports`: the batches' table; `index`: the partners' lists of deregistration batches. */
  constructor(
    private readonly table: TableClient,
    readonly index: BatchIndex,
  ) {}

  /** The devices, then the index entry, then the header: a batch without a header does not exist for readers. */
  async writeBatch(batch: DeregistrationBatchEntity, devices: DeregistrationDeviceEntity[], concurrency: number): Promise<void> {
    const chunks: TransactionAction[][] = [];
    for (let i = 0; i < devices.length; i += TRANSACTION_LIMIT) {
      chunks.push(devices.slice(i, i + TRANSACTION_LIMIT).map((row) => ["upsert", defined(row), "Replace"]));
    }
    await forEachLimited(chunks, concurrency, (actions) => this.table.submitTransaction(actions));
    await this.index.record({
      partnerId: batch.partnerId,
      batchId: batch.partitionKey,
      tenantId: batch.tenantId,
      deviceCount: batch.deviceCount,
      createdAt: batch.createdAt,
    });
    await this.table.upsertEntity(defined(batch), "Replace");
  }

  /** The header, when the batch is a deregistration batch (an import batch's id answers undefined). */
  async readBatch(batchId: string): Promise<(DeregistrationBatchEntity & { etag: string }) | undefined> {
    const header = await ifFound(() => this.table.getEntity<DeregistrationBatchEntity>(batchId, BATCH_ROW_KEY));
    return header?.kind === "deregistration" ? header : undefined;
  }

  async readDevice(batchId: string, rowKey: string): Promise<StoredDeregistrationDevice | undefined> {
    return ifFound(() => this.table.getEntity<DeregistrationDeviceEntity>(batchId, rowKey)) as Promise<
      StoredDeregistrationDevice | undefined
    >;
  }

  /** Moves a device on, conditional on its ETag: DeviceChangedError (nothing written) when it moved since it was read. */
  async moveDevice(
    device: StoredDeregistrationDevice,
    changes: Partial<DeregistrationDeviceFields> & { state: DeregistrationState },
  ): Promise<StoredDeregistrationDevice> {
    if (!canMoveDeregistration(device.state, changes.state))
      throw new Error(`A device being deregistered cannot go from ${device.state} to ${changes.state}`);
    const { etag, ...current } = device;
    const next = defined({ ...strip(current), ...changes });
    try {
      const written = await this.table.updateEntity(next, "Replace", { etag });
      return { ...next, etag: written.etag ?? "" };
    } catch (error) {
      if (isPreconditionFailed(error)) throw new DeviceChangedError(device.partitionKey, device.rowKey);
      throw error;
    }
  }

  /** Whether any device of the batch is not final yet: one row at most is read. */
  async hasUnsettled(batchId: string): Promise<boolean> {
    const pages = this.table
      .listEntities({
        queryOptions: {
          filter: `${deviceRange(batchId)} and (${odata`state eq ${"queued"} or state eq ${"deregistering"}`})`,
          select: ["RowKey"],
        },
      })
      .byPage({ maxPageSize: 1 });
    for await (const page of pages) if (page.length > 0) return true;
    return false;
  }

  /** The header and the devices' counts by state: one query of the `state` column of at most DEREGISTRATION_MAX_DEVICES rows. */
  async readSummary(batchId: string): Promise<DeregistrationSummary | undefined> {
    const batch = await this.readBatch(batchId);
    if (!batch) return undefined;
    const counts = emptyDeregistrationCounts();
    let lastUpdatedAt = batch.acceptedAt ?? batch.createdAt;
    const rows = this.table.listEntities<{ state: DeregistrationState; updatedAt: string }>({
      queryOptions: { filter: deviceRange(batchId), select: ["state", "updatedAt"] },
    });
    for await (const row of rows) {
      if (row.state in counts) counts[row.state] += 1;
      if (row.updatedAt > lastUpdatedAt) lastUpdatedAt = row.updatedAt;
    }
    return { batch, counts, lastUpdatedAt };
  }

  async listDevices(
    batchId: string,
    options: { state?: DeregistrationState; pageSize: number; continuationToken?: string },
  ): Promise<{ devices: DeregistrationDeviceEntity[]; continuationToken?: string }> {
    const filter = deviceRange(batchId) + (options.state ? odata` and state eq ${options.state}` : "");
    const pages = this.table
      .listEntities<DeregistrationDeviceEntity>({ queryOptions: { filter } })
      .byPage({ maxPageSize: options.pageSize, ...(options.continuationToken ? { continuationToken: options.continuationToken } : {}) });
    const { value: page } = await pages.next();
    if (!page) return { devices: [] };
    return {
      devices: [...page].map((row) => strip(row) as DeregistrationDeviceEntity),
      ...(page.continuationToken ? { continuationToken: page.continuationToken } : {}),
    };
  }
}

function strip<T extends object>(row: T): T {
  const { odata: _odata, timestamp: _timestamp, etag: _etag, ...rest } = row as T & Record<string, unknown>;
  return rest as T;
}

/** Tables store no undefined. */
function defined<T extends object>(row: T): T & TableEntity<Record<string, unknown>> {
  return Object.fromEntries(Object.entries(row).filter(([, value]) => value !== undefined)) as T & TableEntity<Record<string, unknown>>;
}
