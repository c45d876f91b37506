import { odata, type TableClient, type TableEntity, type TableTransactionResponse, type TransactionAction } from "@azure/data-tables";
import { assertTransition, type DeviceState, type StateCounts, emptyCounts } from "../model/deviceState.js";
import type { BatchStatus } from "../model/batchStatus.js";
import type { BatchIndex } from "./batchIndex.js";
import { CounterShardPool, movesCounts, moveShardCounts, shardCountsOf } from "./counterShards.js";
import { ifFound, isConflict, isNotFound, isPreconditionFailed } from "./tableErrors.js";
import { RideAlongWrites } from "./rideAlongWrites.js";
import { countTransition } from "../telemetry/metrics.js";
import {
  BATCH_ROW_KEY,
  canceledChanges,
  isCancelable,
  COUNTER_ROW_PREFIX,
  COUNTER_SHARDS,
  counterRowKey,
  DEVICE_ROW_PREFIX,
  deviceRowKey,
  emptyShardCounts,
  type BatchEntity,
  type CounterEntity,
  type DeviceEntity,
  type DeviceFields,
  type ProfileState,
  type StoredDevice,
} from "./importEntities.js";
import {
  devicesOfPage,
  PAGE_MAX_DEVICES,
  PAGE_ROW_PREFIX,
  pageRowKey,
  transactionGroups,
  type DevicePageEntity,
  type StoredDevicePageEntity,
} from "./devicePages.js";

/**
 * Page transactions (devicePages.ts) written at once: 2 of up to 3 MB each. More does not make a
 * batch durable sooner (a partition's writes are served in turn; Azurite has one thread) and
 * costs the host's memory, the SDK holding a few copies of each body: the 10,000-device intake
 * bench peaked at 480 MB with all 15 at once, 400 MB with 4, 360 MB with 2, its 202 no later.
 */
const PAGE_TRANSACTIONS_IN_FLIGHT = 2;

/** An entity-group transaction holds at most 100 entities. */
const TRANSACTION_LIMIT = 100;
const SHARD_CONFLICT_RETRIES = 8;
const CHUNK_SHARD_RETRIES = 3;

/**
 * What a batched write does when a transaction fails its ETag check. By default each of its rows
 * is then written alone, so that one row another writer moved does not hold back the rest. A
 * caller whose rows carry its own mark passes `oneByOne: false` and reads them back instead: when
 * the check failed against its own earlier try (a transaction whose answer an outage cut lands,
 * and the storage client's retry of it then fails the check), every row-at-a-time write fails
 * too, one round trip each (a chunk's claim took 10 to 25 s so in the storm bench, issue 14).
 */
export interface RowConflicts {
  oneByOne?: boolean;
}

/** The device row moved since it was read: someone else acted on it, so this change is void. */
export class DeviceChangedError extends Error {
  constructor(
    readonly batchId: string,
    readonly rowKey: string,
  ) {
    super(`Device ${batchId}/${rowKey} changed concurrently`);
    this.name = "DeviceChangedError";
  }
}

export interface BatchSummary {
  batch: BatchEntity;
  counts: StateCounts;
  /** Imported devices of a batch followed to its profile, by profile state (all 0 otherwise). */
  profiles: ProfileCounts;
  lastUpdatedAt: string;
}

export interface ProfileCounts {
  waiting: number;
  assigned: number;
  notAssigned: number;
}

export interface StoredDevicePage {
  devices: DeviceEntity[];
  continuationToken?: string;
}

/** Columns a status reader may see: never the hash, product key or UPN. */
const PUBLIC_DEVICE_COLUMNS = [
  "RowKey",
  "index",
  "line",
  "serialNumber",
  "manufacturer",
  "model",
  "warnings",
  "groupTag",
  "orderIdentifier",
  "state",
  "attempts",
  "graphId",
  "graphRequestId",
  "graphClientRequestId",
  "recordMatch",
  "importStatus",
  "deviceRegistrationId",
  "errorCode",
  "errorName",
  "errorMessage",
  "nextAttemptAt",
  "submittedAt",
  "createdAt",
  "updatedAt",
  "importedAt",
  "autopilotDeviceId",
  "profileState",
  "profileStatus",
  "profileAssignedAt",
  "notes",
] as const;

export class ImportStore {
  private readonly shards: CounterShardPool;
  private readonly rideAlong: RideAlongWrites;

  /**
   * `index`: the partner's list of batches (GET /api/imports), written with the header.
   * `rideAlongWaitMs`: how long a recorded create waits for a claim to ride with (rideAlongWrites.ts).
   */
  constructor(
    private readonly table: TableClient,
    private readonly index?: BatchIndex,
    options: { rideAlongWaitMs?: number; maxWaitingWrites?: number } = {},
  ) {
    this.shards = new CounterShardPool(table);
    this.rideAlong = new RideAlongWrites(table, options.rideAlongWaitMs, options.maxWaitingWrites);
  }

  /**
   * Writes the batch's counters and `rows` (its device pages, devicePages.ts, and the fan-out's
   * progress rows), then the header. Only a batch with a header exists for readers and the
   * sweeper, so a batch whose rows were half written is invisible.
   */
  async writeBatch(batch: BatchEntity, concurrency: number, rows: readonly TableEntity<object>[]): Promise<void> {
    const counters: CounterEntity[] = Array.from({ length: COUNTER_SHARDS }, (_, shard) => ({
      partitionKey: batch.partitionKey,
      rowKey: counterRowKey(shard),
      ...emptyShardCounts(),
      queued: shard === 0 ? batch.deviceCount : 0,
      updatedAt: batch.createdAt,
    }));
    const groups = transactionGroups([...counters, ...rows]);
    // A page transaction is up to 3 MB of JSON, and the SDK holds a few copies of each in flight.
    await forEachLimited(groups, Math.min(concurrency, PAGE_TRANSACTIONS_IN_FLIGHT), (group) =>
      this.table.submitTransaction(group.map((row): TransactionAction => ["upsert", withoutUndefined(row), "Replace"])),
    );
    // Indexed before the header: every batch a reader can see is in its partner's list (a list
    // entry without a header is skipped by the reader).
    await this.index?.record({
      partnerId: batch.partnerId,
      batchId: batch.partitionKey,
      tenantId: batch.tenantId,
      deviceCount: batch.deviceCount,
      createdAt: batch.createdAt,
    });
    await this.table.upsertEntity(withoutUndefined(batch), "Replace");
  }

  /** The batch's status in its partner's list, for filtering by status, and when a final one expires. */
  async recordStatus(
    batch: Pick<BatchEntity, "partitionKey" | "partnerId" | "createdAt" | "expiresAt">,
    status: BatchStatus,
  ): Promise<void> {
    const expiresAt = status === "running" ? undefined : batch.expiresAt || undefined;
    await this.index?.setStatus({ partnerId: batch.partnerId, batchId: batch.partitionKey, createdAt: batch.createdAt }, status, expiresAt);
  }

  /** A retry is sending messages again: until markAccepted, the sweeper finishes it if this process dies. */
  async reopenIntake(batchId: string): Promise<void> {
    await this.table.updateEntity({ partitionKey: batchId, rowKey: BATCH_ROW_KEY, intakeState: "enqueueing" }, "Merge");
  }

  /**
   * Records when a final batch is to be erased (undefined: it runs again, after a retry). A batch
   * erased meanwhile has no header to record it on, which is fine.
   */
  async recordExpiry(batchId: string, expiresAt: string | undefined): Promise<void> {
    try {
      await this.table.updateEntity({ partitionKey: batchId, rowKey: BATCH_ROW_KEY, expiresAt: expiresAt ?? "" }, "Merge");
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  /** The first step of an erasure: from now on the batch is answered as not found. */
  async markErasing(batchId: string, erasingAt: string): Promise<void> {
    try {
      await this.table.updateEntity({ partitionKey: batchId, rowKey: BATCH_ROW_KEY, erasingAt }, "Merge");
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  /**
   * Deletes every row of the batch's partition (devices, counters, webhook event), 100 a
   * transaction, the header last, so a crash midway leaves a header that says erasing. Works on a
   * partition with no header too (an intake that died before writing it). Rows another erasure
   * of the same batch removed first are skipped. Returns how many rows it deleted.
   */
  async erasePartition(batchId: string): Promise<number> {
    const keys: string[] = [];
    const rows = this.table.listEntities({ queryOptions: { filter: odata`PartitionKey eq ${batchId}`, select: ["RowKey"] } });
    for await (const row of rows) if (row.rowKey !== BATCH_ROW_KEY) keys.push(row.rowKey!);
    let deleted = 0;
    for (let i = 0; i < keys.length; i += TRANSACTION_LIMIT) {
      const chunk = keys.slice(i, i + TRANSACTION_LIMIT);
      try {
        await this.table.submitTransaction(chunk.map((rowKey): TransactionAction => ["delete", { partitionKey: batchId, rowKey }]));
        deleted += chunk.length;
      } catch (error) {
        // One row of the chunk was already gone (two erasures of one batch at once): row by row.
        if (!isNotFound(error)) throw error;
        for (const rowKey of chunk) if (await this.deleteRow(batchId, rowKey)) deleted++;
      }
    }
    if (await this.deleteRow(batchId, BATCH_ROW_KEY)) deleted++;
    return deleted;
  }

  /** False when the row was not there. */
  private async deleteRow(batchId: string, rowKey: string): Promise<boolean> {
    try {
      await this.table.deleteEntity(batchId, rowKey);
      return true;
    } catch (error) {
      if (!isNotFound(error)) throw error;
      return false;
    }
  }

  async markCanceled(batchId: string, canceledAt: string): Promise<void> {
    await this.table.updateEntity({ partitionKey: batchId, rowKey: BATCH_ROW_KEY, canceledAt }, "Merge");
  }

  async markAccepted(batchId: string, acceptedAt: string): Promise<void> {
    await this.table.updateEntity({ partitionKey: batchId, rowKey: BATCH_ROW_KEY, intakeState: "accepted", acceptedAt }, "Merge");
  }

  async readBatch(batchId: string): Promise<(BatchEntity & { etag: string }) | undefined> {
    return ifFound(() => this.table.getEntity<BatchEntity>(batchId, BATCH_ROW_KEY));
  }

  /**
   * Takes the job of failing the batch's waiting devices for a tenant that refuses the app: true
   * for exactly one caller (ETag-conditional on the header), false once another has it.
   */
  async claimTenantRefusal(batchId: string, at: string): Promise<boolean> {
    for (let tries = 0; tries < 3; tries++) {
      const batch = await this.readBatch(batchId);
      if (!batch || batch.tenantRefusedAt) return false;
      try {
        await this.table.updateEntity({ partitionKey: batchId, rowKey: BATCH_ROW_KEY, tenantRefusedAt: at }, "Merge", { etag: batch.etag });
        return true;
      } catch (error) {
        // The header moved (a poll round, perhaps): look again whether another worker took the job.
        if (!isPreconditionFailed(error)) throw error;
      }
    }
    return false;
  }

  /** Records a poll round on the header, conditional on its ETag; false if another message took the round. */
  async claimPollRound(
    batch: BatchEntity & { etag: string },
    changes: Pick<BatchEntity, "pollAttempt" | "pollClaimedBy" | "pollIdleRounds" | "polledAt">,
  ): Promise<boolean> {
    try {
      await this.table.updateEntity({ partitionKey: batch.partitionKey, rowKey: BATCH_ROW_KEY, ...changes }, "Merge", { etag: batch.etag });
      return true;
    } catch (error) {
      if (isPreconditionFailed(error)) return false;
      throw error;
    }
  }

  /** Every device of the batch in one of the given states, whole (for transitions). */
  async devicesInState(batchId: string, state: DeviceState, ...more: DeviceState[]): Promise<StoredDevice[]> {
    const found: StoredDevice[] = [];
    const states = [state, ...more].map((one) => odata`state eq ${one}`).join(" or ");
    const rows = this.table.listEntities<DeviceEntity>({
      queryOptions: {
        filter: `${odata`PartitionKey eq ${batchId} and RowKey ge ${DEVICE_ROW_PREFIX} and RowKey lt ${DEVICE_ROW_PREFIX + "~"}`} and (${states})`,
      },
    });
    for await (const row of rows) found.push({ ...stripMetadata(row), etag: row.etag } as StoredDevice);
    return found;
  }

  /**
   * Moves many devices of one batch at once: up to 99 devices and one counter shard per
   * transaction, instead of a transaction each. If a chunk fails (a device moved meanwhile, or
   * the shard did), its devices are moved one by one, and a device that moved is left alone.
   * Returns how many were moved.
   */
  async transitionDevices(moves: { device: StoredDevice; changes: Partial<DeviceFields> & { state: DeviceState } }[]): Promise<number> {
    return (await this.moveDevices(moves)).length;
  }

  /**
   * transitionDevices, telling which devices moved (their row keys). `oneByOne: false`: a
   * transaction that did not go through is left out instead of being tried again a row at a time
   * (the caller reads the rows back; see RowConflicts).
   */
  async moveDevices(
    moves: { device: StoredDevice; changes: Partial<DeviceFields> & { state: DeviceState } }[],
    { oneByOne = true }: RowConflicts = {},
  ): Promise<string[]> {
    const moved: string[] = [];
    for (let i = 0; i < moves.length; i += TRANSACTION_LIMIT - 1) {
      const chunk = moves.slice(i, i + TRANSACTION_LIMIT - 1);
      if (await this.moveChunk(chunk)) {
        moved.push(...chunk.map(({ device }) => device.rowKey));
        continue;
      }
      if (await this.landedAlready(chunk.map(({ device, changes }) => deviceUpdate(device, changes).entity))) {
        moved.push(...chunk.map(({ device }) => device.rowKey));
        continue;
      }
      if (!oneByOne) continue;
      for (const { device, changes } of chunk) {
        try {
          await this.transitionDevice(device, changes);
          moved.push(device.rowKey);
        } catch (error) {
          if (!(error instanceof DeviceChangedError)) throw error;
        }
      }
    }
    return moved;
  }

  /**
   * Cancels those of `devices` a cancel may move (isCancelable: queued, or retrying with nothing
   * possibly created), each with its counter shard: the cancel request's step, and the fan-out's
   * for a batch canceled while its rows were still in pages. Returns the row keys moved.
   */
  async cancelDevices(devices: readonly StoredDevice[], at: string): Promise<string[]> {
    return this.moveDevices(devices.filter(isCancelable).map((device) => ({ device, changes: canceledChanges(at) })));
  }

  /**
   * One transaction for a chunk of devices and a counter shard. A 412 is most often the shard
   * (another instance wrote it), rarely a device, and the answer does not say which: so the
   * chunk is tried again with freshly read shards a few times before the caller falls back to
   * one device at a time. False when the chunk did not go through.
   */
  private async moveChunk(chunk: { device: StoredDevice; changes: Partial<DeviceFields> & { state: DeviceState } }[]): Promise<boolean> {
    const batchId = chunk[0]!.device.partitionKey;
    for (let tries = 0; tries < CHUNK_SHARD_RETRIES; tries++) {
      const lease = await this.shards.lease(batchId);
      let counts = lease.counts;
      const actions: TransactionAction[] = chunk.map(({ device, changes }) => {
        assertTransition(device.state, changes.state);
        counts = moveShardCounts(counts, device, { ...device, ...changes });
        const { entity, mode } = deviceUpdate(device, changes);
        return ["update", entity, mode, { etag: device.etag }];
      });
      const updatedAt = new Date().toISOString();
      actions.push(["update", { partitionKey: batchId, rowKey: lease.rowKey, ...counts, updatedAt }, "Replace", { etag: lease.etag }]);
      try {
        const response = await this.table.submitTransaction(actions);
        lease.release(etagOfAction(response, actions.length - 1), counts);
        for (const { device, changes } of chunk) if (changes.state !== device.state) countTransition(changes.state, changes.errorCode);
        return true;
      } catch (error) {
        lease.invalidate();
        lease.release();
        if (!isPreconditionFailed(error)) throw error;
      }
    }
    return false;
  }

  /** Imported devices of the batch still waiting for their Autopilot profile. */
  async devicesWaitingForProfile(batchId: string): Promise<StoredDevice[]> {
    const found: StoredDevice[] = [];
    const rows = this.table.listEntities<DeviceEntity>({
      queryOptions: {
        filter: odata`PartitionKey eq ${batchId} and RowKey ge ${DEVICE_ROW_PREFIX} and RowKey lt ${DEVICE_ROW_PREFIX + "~"} and state eq ${"imported"} and profileState eq ${"waiting"}`,
      },
    });
    for await (const row of rows) found.push({ ...stripMetadata(row), etag: row.etag } as StoredDevice);
    return found;
  }

  /** The device rows from `first` on, `size` rows (a chunk: consecutive row keys, one range query). */
  async readDeviceRange(batchId: string, first: string, size: number): Promise<StoredDevice[]> {
    const from = Number(first.slice(DEVICE_ROW_PREFIX.length));
    const rows = this.table.listEntities<DeviceEntity>({
      queryOptions: { filter: odata`PartitionKey eq ${batchId} and RowKey ge ${first} and RowKey lt ${deviceRowKey(from + size)}` },
    });
    const found: StoredDevice[] = [];
    for await (const row of rows) found.push({ ...stripMetadata(row), etag: row.etag } as StoredDevice);
    return found;
  }

  /**
   * Notes when a waiting device's next attempt is due, without moving it (a chunk's leader given a
   * later slot says so for its followers; `chunkResentFor` when a follower sent the chunk again):
   * conditional on the row's ETag. The row as it now is; undefined when it moved meanwhile.
   */
  async noteNextAttempt(
    device: StoredDevice,
    nextAttemptAt: string,
    extra: Pick<DeviceFields, "chunkResentFor"> = {},
  ): Promise<StoredDevice | undefined> {
    if (device.state !== "queued" && device.state !== "retrying") return undefined;
    try {
      const answer = await this.table.updateEntity(
        { partitionKey: device.partitionKey, rowKey: device.rowKey, nextAttemptAt, ...extra },
        "Merge",
        { etag: device.etag },
      );
      return { ...device, nextAttemptAt, ...extra, etag: answer.etag ?? device.etag };
    } catch (error) {
      if (isPreconditionFailed(error)) return undefined;
      throw error;
    }
  }

  /** The states of a chunk's rows (readDeviceRange's rows, three columns of each): what its followers need to know. */
  async readDeviceStates(
    batchId: string,
    first: string,
    size: number,
  ): Promise<(Pick<DeviceFields, "state" | "attempts"> & { rowKey: string })[]> {
    const from = Number(first.slice(DEVICE_ROW_PREFIX.length));
    const rows = this.table.listEntities<Pick<DeviceEntity, "rowKey" | "state" | "attempts">>({
      queryOptions: {
        filter: odata`PartitionKey eq ${batchId} and RowKey ge ${first} and RowKey lt ${deviceRowKey(from + size)}`,
        select: ["RowKey", "state", "attempts"],
      },
    });
    const found: (Pick<DeviceFields, "state" | "attempts"> & { rowKey: string })[] = [];
    for await (const row of rows) found.push({ rowKey: row.rowKey, state: row.state, attempts: row.attempts });
    return found;
  }

  /**
   * Changes to devices of one batch that move no counter (a claim from `queued`, a recorded
   * Graph id), up to 100 rows a transaction, each conditional on its ETag. A transaction's 412
   * does not say which row moved, so then each row is written alone and a moved row is left out.
   * Returns the row keys written.
   */
  async writeInPlace(updates: { device: StoredDevice; changes: Partial<DeviceFields> & { state?: DeviceState } }[]): Promise<string[]> {
    return (await this.writeInPlaceRows(updates)).map((row) => row.rowKey);
  }

  /** writeInPlace, returning each written row as it now is, with its new ETag when storage told it; `oneByOne` as for moveDevices. */
  async writeInPlaceRows(
    updates: { device: StoredDevice; changes: Partial<DeviceFields> & { state?: DeviceState } }[],
    { oneByOne = true }: RowConflicts = {},
  ): Promise<StoredDevice[]> {
    const written: StoredDevice[] = [];
    const updateOf = ({ device, changes }: (typeof updates)[number]) => {
      const state = changes.state ?? device.state;
      assertTransition(device.state, state);
      if (movesCounts(device, { ...device, ...changes, state }))
        throw new Error(`writeInPlace cannot move ${device.state} to ${state}: the counters would drift`);
      return deviceUpdate(device, { ...changes, state });
    };
    // The row as it now is (what a Replace would have written).
    const rowOf = ({ device, changes }: (typeof updates)[number], etag: string | undefined): StoredDevice => {
      const { etag: _etag, ...current } = device;
      return { ...(nextRow(current, { ...changes, state: changes.state ?? device.state }) as unknown as DeviceEntity), etag: etag ?? "" };
    };
    for (let i = 0; i < updates.length; i += TRANSACTION_LIMIT) {
      const part = updates.slice(i, i + TRANSACTION_LIMIT);
      const writes = part.map(updateOf);
      try {
        const response = await this.table.submitTransaction(
          part.map((u, k): TransactionAction => ["update", writes[k]!.entity, writes[k]!.mode, { etag: u.device.etag }]),
        );
        written.push(...part.map((update, k) => rowOf(update, etagOfAction(response, k))));
        continue;
      } catch (error) {
        if (!isPreconditionFailed(error)) throw error;
      }
      const landed = await this.landedAlready(writes.map((w) => w.entity));
      if (landed) {
        written.push(...landed);
        continue;
      }
      if (!oneByOne) continue;
      for (const [k, update] of part.entries()) {
        try {
          const response = await this.table.updateEntity(writes[k]!.entity, writes[k]!.mode, { etag: update.device.etag });
          written.push(rowOf(update, response.etag));
        } catch (error) {
          if (!isPreconditionFailed(error)) throw error;
        }
      }
    }
    return written;
  }

  /**
   * After a transaction of device rows failed its ETag check: whether it had landed after all. A
   * transaction whose answer an outage cut is carried out, and the storage client's retry of it
   * then fails the check against it; without this, each of its up to 100 rows was then written
   * alone and failed the check too, one round trip each (10 to 25 s and 100 to 200 transactions a
   * chunk in the storm bench, issue 14). A transaction is all or nothing, so it landed when every
   * row reads back as it wrote them. The rows as read (with their ETags) if so.
   */
  private async landedAlready(entities: TableEntity<Record<string, unknown>>[]): Promise<StoredDevice[] | undefined> {
    if (entities.length === 0) return undefined;
    const rows = await this.readRows(
      entities[0]!.partitionKey,
      entities.map((e) => e.rowKey),
    );
    const byKey = new Map(rows.map((row) => [row.rowKey, row]));
    const asWritten = (entity: TableEntity<Record<string, unknown>>) => {
      const row = byKey.get(entity.rowKey) as unknown as Record<string, unknown> | undefined;
      return (
        row !== undefined &&
        Object.entries(entity).every(
          ([key, value]) => value === undefined || value === null || key === "partitionKey" || key === "rowKey" || row[key] === value,
        )
      );
    };
    return entities.every(asWritten) ? entities.map((e) => byKey.get(e.rowKey)!) : undefined;
  }

  /** Device rows of one batch by key: one range query when they are (nearly) contiguous, as a chunk's are; one read each otherwise. */
  private async readRows(batchId: string, rowKeys: string[]): Promise<StoredDevice[]> {
    const indices = rowKeys.map((k) => (k.startsWith(DEVICE_ROW_PREFIX) ? Number(k.slice(DEVICE_ROW_PREFIX.length)) : NaN));
    const wanted = new Set(rowKeys);
    if (indices.every(Number.isInteger)) {
      const first = Math.min(...indices);
      const span = Math.max(...indices) - first + 1;
      if (span <= 2 * rowKeys.length)
        return (await this.readDeviceRange(batchId, deviceRowKey(first), span)).filter((d) => wanted.has(d.rowKey));
    }
    const rows: StoredDevice[] = [];
    for (const rowKey of rowKeys) {
      const row = await this.readDevice(batchId, rowKey);
      if (row) rows.push(row);
    }
    return rows;
  }

  async readDevice(batchId: string, rowKey: string): Promise<StoredDevice | undefined> {
    return ifFound(() => this.table.getEntity<DeviceEntity>(batchId, rowKey)) as Promise<StoredDevice | undefined>;
  }

  /**
   * Moves a device to its next state and the batch's counters with it, in one transaction.
   * Conditional on the device's ETag: if the device moved since it was read, throws
   * DeviceChangedError and changes nothing.
   */
  async transitionDevice(device: StoredDevice, changes: Partial<DeviceFields> & { state: DeviceState }): Promise<StoredDevice> {
    assertTransition(device.state, changes.state);
    const { etag, ...current } = device;
    const next = nextRow(current, changes);

    // No counter moves (the same state, or a claim counted as queued either way, and the same
    // profile state): the row alone, carrying any recorded creates of the same batch that wait
    // for a write to ride with.
    if (!movesCounts(device, { ...device, ...changes })) {
      const written = await this.guarded(device, () => this.rideAlong.carry(next, etag));
      return { ...next, etag: written ?? "" };
    }

    for (let tries = 0; ; tries++) {
      const lease = await this.shards.lease(device.partitionKey);
      const counts = moveShardCounts(lease.counts, device, { ...device, ...changes });
      try {
        const response = await this.table.submitTransaction([
          ["update", next, "Replace", { etag }],
          [
            "update",
            { partitionKey: device.partitionKey, rowKey: lease.rowKey, ...counts, updatedAt: next.updatedAt },
            "Replace",
            { etag: lease.etag },
          ],
        ]);
        lease.release(etagOfAction(response, 1), counts);
        // Counted where every state change is committed, so no path misses one or counts one twice.
        countTransition(changes.state, changes.errorCode);
        const written = etagOfAction(response, 0);
        if (written) return { ...next, etag: written };
        // Without the new ETag the next transition could not be conditional: read it.
        const stored = await this.readDevice(device.partitionKey, device.rowKey);
        return { ...next, etag: stored?.etag ?? "" };
      } catch (error) {
        lease.invalidate();
        lease.release();
        if (!isPreconditionFailed(error)) throw error;
        const now = await this.readDevice(device.partitionKey, device.rowKey);
        if (!now || now.etag !== etag) throw new DeviceChangedError(device.partitionKey, device.rowKey);
        if (tries >= SHARD_CONFLICT_RETRIES) throw error;
      }
    }
  }

  /**
   * Records what a create told about a device that stays in its state (the Graph id of a 201):
   * a write that may wait up to a second for a claim of the same batch to ride with, so most
   * cost no transaction of their own. Settles once written; conditional on the device's ETag
   * (DeviceChangedError if it moved).
   */
  async recordOnDevice(device: StoredDevice, changes: Partial<DeviceFields>): Promise<void> {
    const { etag, ...current } = device;
    const next = withoutUndefined({ ...stripMetadata(current), ...changes, state: device.state });
    await this.guarded(device, () => this.rideAlong.ride(next, etag));
  }

  /** The header and the summed counters: one query of COUNTER_SHARDS + 1 rows, whatever the batch's size. */
  async readSummary(batchId: string): Promise<BatchSummary | undefined> {
    const rows = this.table.listEntities<Record<string, unknown>>({
      queryOptions: {
        filter: odata`PartitionKey eq ${batchId} and RowKey ge ${BATCH_ROW_KEY} and RowKey lt ${COUNTER_ROW_PREFIX + "~"}`,
      },
    });
    let batch: BatchEntity | undefined;
    const counts = emptyCounts();
    const profiles: ProfileCounts = { waiting: 0, assigned: 0, notAssigned: 0 };
    let lastUpdatedAt = "";
    for await (const row of rows) {
      if (row.rowKey === BATCH_ROW_KEY) {
        batch = row as unknown as BatchEntity;
        continue;
      }
      const shard = shardCountsOf(row as Partial<StateCounts>);
      for (const state of Object.keys(counts) as (keyof StateCounts)[]) counts[state] += shard[state];
      profiles.waiting += shard.profileWaiting;
      profiles.assigned += shard.profileAssigned;
      profiles.notAssigned += shard.profileNotAssigned;
      const updatedAt = String(row.updatedAt ?? "");
      if (updatedAt > lastUpdatedAt) lastUpdatedAt = updatedAt;
    }
    if (!batch) return undefined;
    return { batch, counts, profiles, lastUpdatedAt: lastUpdatedAt || batch.createdAt };
  }

  async listDevices(
    batchId: string,
    options: { state?: DeviceState; profileState?: ProfileState; pageSize: number; continuationToken?: string },
  ): Promise<StoredDevicePage> {
    const stateFilter =
      (options.state ? odata` and state eq ${options.state}` : "") +
      (options.profileState ? odata` and profileState eq ${options.profileState}` : "");
    const pages = this.table
      .listEntities<DeviceEntity>({
        queryOptions: {
          filter:
            odata`PartitionKey eq ${batchId} and RowKey ge ${DEVICE_ROW_PREFIX} and RowKey lt ${DEVICE_ROW_PREFIX + "~"}` + stateFilter,
          select: [...PUBLIC_DEVICE_COLUMNS],
        },
      })
      .byPage({ maxPageSize: options.pageSize, ...(options.continuationToken ? { continuationToken: options.continuationToken } : {}) });
    const { value: page } = await pages.next();
    if (!page) return { devices: [] };
    const devices = [...page].map((row) => stripMetadata(row) as DeviceEntity);
    return { devices, ...(page.continuationToken ? { continuationToken: page.continuationToken } : {}) };
  }

  /** The device pages (devicePages.ts) holding devices of [from, to), without their devices: a range's pages, since pages never cross a range. */
  async readPageKeys(batchId: string, from: number, to: number): Promise<Pick<DevicePageEntity, "rowKey" | "first" | "count">[]> {
    const rows = this.table.listEntities<DevicePageEntity>({
      queryOptions: {
        filter: odata`PartitionKey eq ${batchId} and RowKey ge ${pageRowKey(from)} and RowKey lt ${pageRowKey(to)}`,
        select: ["RowKey", "first", "count"],
      },
    });
    const found: Pick<DevicePageEntity, "rowKey" | "first" | "count">[] = [];
    for await (const row of rows) found.push({ rowKey: row.rowKey, first: row.first, count: row.count });
    return found;
  }

  /** One device page, devices and all; undefined once it was turned into rows. */
  async readPage(batchId: string, rowKey: string): Promise<StoredDevicePageEntity | undefined> {
    const page = await ifFound(() => this.table.getEntity<DevicePageEntity>(batchId, rowKey));
    return page ? ({ ...stripMetadata(page), etag: page.etag } as StoredDevicePageEntity) : undefined;
  }

  /**
   * Turns a page into its device rows: one transaction that creates the rows and deletes the page,
   * so a device is never in both or in neither. False when the page was gone or a row was already
   * there: another worker expanded it (or the batch was erased).
   */
  async expandPage(page: StoredDevicePageEntity): Promise<boolean> {
    const devices = devicesOfPage(page);
    const actions: TransactionAction[] = devices.map((device) => ["create", withoutUndefined(device)]);
    actions.push(["delete", { partitionKey: page.partitionKey, rowKey: page.rowKey }]);
    try {
      await this.table.submitTransaction(actions);
      return true;
    } catch (error) {
      if (isNotFound(error) || isConflict(error)) return false;
      throw error;
    }
  }

  /**
   * A page of the batch's devices in index order from device `from` on, rows and pages together
   * (a batch whose fan-out has not written every row yet: devicePages.ts). The pages are read
   * before the rows, so a page expanded between the two reads shows its devices twice, and the
   * rows win; never not at all. A device still in a page is `queued`.
   */
  async listDevicesByIndex(
    batchId: string,
    options: { state?: DeviceState; profileState?: ProfileState; pageSize: number; from: number },
  ): Promise<{ devices: DeviceEntity[]; nextIndex?: number }> {
    const { pageSize, from } = options;
    const fromPages: DeviceEntity[] = [];
    if ((options.state === undefined || options.state === "queued") && options.profileState === undefined) {
      // The page holding device `from` starts at most PAGE_MAX_DEVICES - 1 devices before it.
      const firstPage = pageRowKey(Math.max(0, from - PAGE_MAX_DEVICES + 1));
      const pages = this.table.listEntities<DevicePageEntity>({
        queryOptions: { filter: odata`PartitionKey eq ${batchId} and RowKey ge ${firstPage} and RowKey lt ${PAGE_ROW_PREFIX + "~"}` },
      });
      for await (const page of pages) {
        if (page.first + page.count <= from) continue;
        for (const device of devicesOfPage(page)) if (device.index >= from) fromPages.push(publicColumns(device));
        if (fromPages.length >= pageSize) break;
      }
    }
    const stateFilter =
      (options.state ? odata` and state eq ${options.state}` : "") +
      (options.profileState ? odata` and profileState eq ${options.profileState}` : "");
    const fromRows: DeviceEntity[] = [];
    const rows = this.table
      .listEntities<DeviceEntity>({
        queryOptions: {
          filter:
            odata`PartitionKey eq ${batchId} and RowKey ge ${deviceRowKey(from)} and RowKey lt ${DEVICE_ROW_PREFIX + "~"}` + stateFilter,
          select: [...PUBLIC_DEVICE_COLUMNS],
        },
      })
      .byPage({ maxPageSize: pageSize });
    for await (const page of rows) {
      for (const row of page) fromRows.push(stripMetadata(row) as DeviceEntity);
      if (fromRows.length >= pageSize) break;
    }
    const byIndex = new Map<number, DeviceEntity>();
    for (const device of fromPages) byIndex.set(device.index, device);
    for (const device of fromRows) byIndex.set(device.index, device);
    const merged = [...byIndex.values()].sort((a, b) => a.index - b.index);
    // Both sources were read up to pageSize: beyond the first pageSize merged, one may be missing a device.
    const devices = merged.slice(0, pageSize);
    const more = merged.length > pageSize || fromPages.length >= pageSize || fromRows.length >= pageSize;
    return { devices, ...(more && devices.length > 0 ? { nextIndex: devices[devices.length - 1]!.index + 1 } : {}) };
  }

  /** Devices that never got past `queued` with no attempt made: what a lost intake left behind. */
  async listUnstartedDevices(batchId: string): Promise<StoredDevice[]> {
    const found: StoredDevice[] = [];
    const rows = this.table.listEntities<DeviceEntity>({
      queryOptions: {
        filter: odata`PartitionKey eq ${batchId} and RowKey ge ${DEVICE_ROW_PREFIX} and RowKey lt ${DEVICE_ROW_PREFIX + "~"} and state eq ${"queued"}`,
        select: ["PartitionKey", "RowKey", "state", "attempts"],
      },
    });
    for await (const row of rows) found.push(row as StoredDevice);
    return found;
  }

  private async guarded<T>(device: StoredDevice, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (error) {
      if (isPreconditionFailed(error)) throw new DeviceChangedError(device.partitionKey, device.rowKey);
      throw error;
    }
  }
}

/**
 * The ETag a transaction's n-th action left on its entity. Sub-responses come back in the order
 * of the actions. `getResponseForEntity` is no use here: the SDK finds a sub-response by a
 * `RowKey='…'` it reads from the sub-response's text, and an update's answer (Azurite's, checked;
 * the service's 204 has no body either) carries only the ETag, so for updates it finds nothing.
 * Trusting it left every transition with an empty ETag, and a counter-shard conflict with another
 * instance then looked like a device that had moved: its message was dropped mid-create.
 */
function etagOfAction(response: TableTransactionResponse, index: number): string | undefined {
  return response.subResponses[index]?.etag || undefined;
}

/**
 * The row a transition writes (whole, replacing the old). An imported device's hardware hash,
 * product key and assigned user go in the same write: Intune keeps the device with them, and
 * nothing here needs them again (only a create sends them, and a retry takes failed devices only,
 * which keep theirs until the batch is erased). No reader is shown any of the three.
 */
function nextRow(current: Omit<StoredDevice, "etag">, changes: Partial<DeviceFields> & { state: DeviceState }) {
  const next = { ...stripMetadata(current), ...changes };
  if (changes.state === "imported") {
    delete next.hardwareIdentifier;
    delete next.productKey;
    delete next.assignedUserPrincipalName;
  }
  return withoutUndefined(next);
}

/** The SDK adds odata metadata and a timestamp to what it reads; keep only our own columns. */
/** Only the columns a status reader may see (PUBLIC_DEVICE_COLUMNS), of a device read whole from its page. */
function publicColumns(device: DeviceEntity): DeviceEntity {
  const kept: Record<string, unknown> = { rowKey: device.rowKey };
  for (const column of PUBLIC_DEVICE_COLUMNS)
    if (column !== "RowKey" && column in device) kept[column] = device[column as keyof DeviceEntity];
  return kept as unknown as DeviceEntity;
}

function stripMetadata<T extends object>(row: T): T {
  const { odata: _odata, timestamp: _timestamp, etag: _etag, ...rest } = row as T & Record<string, unknown>;
  return rest as T;
}

/**
 * The write that turns a row read as `device` into `device` with `changes`, in a transaction,
 * conditional on the ETag it was read with. A Merge of the changed columns when that comes to
 * the same row (every column the changes drop is already absent: a Merge cannot remove one),
 * else a Replace of the whole row. A device row carries its 4 KB hash, so a Merge is a few
 * hundred bytes where a Replace is several KB; the ETag condition makes the row as read the row
 * as stored. A device settled `imported` (a chunk's poll round as much as a create's) loses its
 * hash, product key and assigned user in this write (nextRow), so that write is a Replace.
 */
function deviceUpdate(
  device: StoredDevice,
  changes: Partial<DeviceFields>,
): { entity: TableEntity<Record<string, unknown>>; mode: "Merge" | "Replace" } {
  const { etag: _etag, ...current } = device;
  // The row as it must be afterwards: an imported device's secrets go in this same write (nextRow).
  const next = nextRow(current, { ...changes, state: changes.state ?? device.state });
  const dropsAColumn = Object.entries(stripMetadata(current)).some(([key, value]) => value !== undefined && !(key in next));
  if (dropsAColumn) return { entity: next, mode: "Replace" };
  return { entity: withoutUndefined({ partitionKey: device.partitionKey, rowKey: device.rowKey, ...changes }), mode: "Merge" };
}

/** Tables store no undefined; an absent property is simply not written. */
function withoutUndefined<T extends object>(row: T): T & TableEntity<Record<string, unknown>> {
  return Object.fromEntries(Object.entries(row).filter(([, value]) => value !== undefined)) as T & TableEntity<Record<string, unknown>>;
}

export async function forEachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await work(item);
    }
  });
  await Promise.all(runners);
}
