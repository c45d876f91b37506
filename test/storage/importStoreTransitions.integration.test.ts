import { describe, expect, it } from "vitest";
import { COUNTER_SHARDS, deviceRowKey } from "../../src/storage/importEntities.js";
import { ImportStore } from "../../src/storage/importStore.js";
import { useAzuriteStorage } from "../support/azuriteStorage.js";
import { writeTestBatch } from "../support/storedBatch.js";

/**
 * Transitions against real Azurite with two stores over one table, as two Function instances
 * are: each keeps its own counter-shard ETags, so each makes the other's stale.
 */
const storage = useAzuriteStorage();

describe("ImportStore transitions", () => {
  it("returns the ETag the transition left, so the next transition is conditional on it", async () => {
    const store = new ImportStore(storage.clients().imports);
    const batchId = await writeTestBatch(store, 1);
    const device = (await store.readDevice(batchId, deviceRowKey(0)))!;
    const claimed = await store.transitionDevice(device, {
      state: "submitting",
      attempts: 1,
      claimedBy: "m1",
      updatedAt: new Date().toISOString(),
    });
    const stored = (await store.readDevice(batchId, deviceRowKey(0)))!;
    expect(claimed.etag).toBe(stored.etag);
  });

  it("moves a device whose counter shard another instance wrote meanwhile, instead of calling it changed", async () => {
    const instanceA = new ImportStore(storage.clients().imports);
    const instanceB = new ImportStore(storage.clients().imports);
    const batchId = await writeTestBatch(instanceA, 1 + COUNTER_SHARDS);
    const first = (await instanceA.readDevice(batchId, deviceRowKey(0)))!;
    const claimed = await instanceA.transitionDevice(first, {
      state: "submitting",
      attempts: 1,
      claimedBy: "m1",
      updatedAt: new Date().toISOString(),
    });

    // B moves COUNTER_SHARDS devices at once, so it holds (and writes) every shard: every shard
    // ETag A remembers is now stale. (Canceled, because a claim moves no counter.)
    await Promise.all(
      Array.from({ length: COUNTER_SHARDS }, async (_, i) => {
        const device = (await instanceB.readDevice(batchId, deviceRowKey(i + 1)))!;
        await instanceB.transitionDevice(device, { state: "canceled", updatedAt: new Date().toISOString() });
      }),
    );

    const submitted = await instanceA.transitionDevice(claimed, { state: "submitted", graphId: "g1", updatedAt: new Date().toISOString() });
    expect(submitted.state).toBe("submitted");
    expect((await instanceA.readDevice(batchId, deviceRowKey(0)))?.state).toBe("submitted");
    const summary = await instanceB.readSummary(batchId);
    expect(summary?.counts).toEqual({ queued: 0, retrying: 0, submitted: 1, imported: 0, failed: 0, canceled: COUNTER_SHARDS });
  });

  it("still refuses to move a device that really moved since it was read", async () => {
    const store = new ImportStore(storage.clients().imports);
    const batchId = await writeTestBatch(store, 1);
    const device = (await store.readDevice(batchId, deviceRowKey(0)))!;
    await store.transitionDevice(device, { state: "submitting", attempts: 1, claimedBy: "m1", updatedAt: new Date().toISOString() });
    await expect(
      store.transitionDevice(device, { state: "submitting", attempts: 1, claimedBy: "m2", updatedAt: new Date().toISOString() }),
    ).rejects.toThrow(/changed|moved/i);
    // A device in a create attempt is counted as queued.
    expect((await store.readSummary(batchId))?.counts).toEqual({
      queued: 1,
      retrying: 0,
      submitted: 0,
      imported: 0,
      failed: 0,
      canceled: 0,
    });
  });

  it("gives the job of failing a refused tenant's waiting devices to exactly one of many workers", async () => {
    const instances = Array.from({ length: 6 }, () => new ImportStore(storage.clients().imports));
    const batchId = await writeTestBatch(instances[0]!, 1);
    const claims = await Promise.all(instances.map((store) => store.claimTenantRefusal(batchId, new Date().toISOString())));
    expect(claims.filter(Boolean)).toHaveLength(1);
    expect((await instances[0]!.readBatch(batchId))?.tenantRefusedAt).toEqual(expect.any(String));
    expect(await instances[1]!.claimTenantRefusal(batchId, new Date().toISOString())).toBe(false);
  });

  it("claims a chunk in place and returns each row with the ETag it now has, so the next write needs no read", async () => {
    const store = new ImportStore(storage.clients().imports);
    const batchId = await writeTestBatch(store, 5);
    const rows = await store.readDeviceRange(batchId, deviceRowKey(0), 5);
    const at = new Date().toISOString();
    const claimed = await store.writeInPlaceRows(
      rows.map((device) => ({ device, changes: { state: "submitting" as const, attempts: 1, claimedBy: "leader", updatedAt: at } })),
    );
    const stored = await store.readDeviceRange(batchId, deviceRowKey(0), 5);
    expect(claimed.map((d) => [d.rowKey, d.state, d.claimedBy, d.etag])).toEqual(
      stored.map((d) => [d.rowKey, "submitting", "leader", d.etag]),
    );
    // Conditional on those ETags, the next write goes through; on the old ones it would not.
    expect(await store.writeInPlace(claimed.map((device) => ({ device, changes: { graphId: `g-${device.rowKey}` } })))).toHaveLength(5);
    expect(
      await store.writeInPlace(
        rows.slice(0, 1).map((device) => ({ device, changes: { state: "submitting" as const, attempts: 1, claimedBy: "other" } })),
      ),
    ).toEqual([]);
  });

  it("reads a chunk's states (row key, state, attempts) for its followers, and notes a waiting device's next attempt without moving it", async () => {
    const store = new ImportStore(storage.clients().imports);
    const batchId = await writeTestBatch(store, 6);
    const [first] = await store.readDeviceRange(batchId, deviceRowKey(1), 1);
    await store.transitionDevice(first!, { state: "submitting", attempts: 1, claimedBy: "m1", updatedAt: new Date().toISOString() });
    expect(await store.readDeviceStates(batchId, deviceRowKey(0), 3)).toEqual([
      { rowKey: deviceRowKey(0), state: "queued", attempts: 0 },
      { rowKey: deviceRowKey(1), state: "submitting", attempts: 1 },
      { rowKey: deviceRowKey(2), state: "queued", attempts: 0 },
    ]);
    const waiting = (await store.readDevice(batchId, deviceRowKey(3)))!;
    const next = new Date(Date.now() + 60_000).toISOString();
    const noted = await store.noteNextAttempt(waiting, next);
    expect(noted).toMatchObject({ nextAttemptAt: next });
    // The row it answers with carries the new ETag: a second note by the same writer lands.
    const later = new Date(Date.now() + 90_000).toISOString();
    expect(await store.noteNextAttempt(noted!, later, { chunkResentFor: 1 })).toMatchObject({ nextAttemptAt: later, chunkResentFor: 1 });
    expect(await store.readDevice(batchId, deviceRowKey(3))).toMatchObject({
      state: "queued",
      attempts: 0,
      nextAttemptAt: later,
      chunkResentFor: 1,
      serialNumber: "S-3",
    });
    // Conditional: on a row that moved since, nothing is written.
    expect(await store.noteNextAttempt(waiting, new Date().toISOString())).toBeUndefined();
    expect((await store.readSummary(batchId))?.counts).toEqual({
      queued: 6,
      retrying: 0,
      submitted: 0,
      imported: 0,
      failed: 0,
      canceled: 0,
    });
  });

  it("writes only the changed columns when that leaves the same row, and the whole row when a column must go", async () => {
    const store = new ImportStore(storage.clients().imports);
    const batchId = await writeTestBatch(store, 2);
    const [a, b] = await store.readDeviceRange(batchId, deviceRowKey(0), 2);
    const at = new Date().toISOString();
    // a: a claim drops nothing the row has; b: failed with an error, then retried, which drops it.
    const [claimed] = await store.writeInPlaceRows([
      { device: a!, changes: { state: "submitting", attempts: 1, claimedBy: "m1", errorCode: undefined, updatedAt: at } },
    ]);
    expect(await store.readDevice(batchId, deviceRowKey(0))).toMatchObject({
      ...claimed,
      etag: claimed!.etag,
      hardwareIdentifier: "AAAA",
      serialNumber: "S-0",
    });
    const failed = await store.transitionDevice(b!, { state: "failed", errorCode: "BadRequest", errorMessage: "no", updatedAt: at });
    expect(
      await store.moveDevices([
        { device: failed, changes: { state: "retrying", errorCode: undefined, errorMessage: undefined, nextAttemptAt: at, updatedAt: at } },
      ]),
    ).toEqual([deviceRowKey(1)]);
    const retried = (await store.readDevice(batchId, deviceRowKey(1)))!;
    expect(retried).toMatchObject({ state: "retrying", nextAttemptAt: at, hardwareIdentifier: "AAAA", serialNumber: "S-1" });
    expect(retried.errorCode).toBeUndefined();
    expect(retried.errorMessage).toBeUndefined();
    expect((await store.readSummary(batchId))?.counts).toEqual({
      queued: 1,
      retrying: 1,
      submitted: 0,
      imported: 0,
      failed: 0,
      canceled: 0,
    });
  });
});
