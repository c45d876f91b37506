import type { TableClient } from "@azure/data-tables";
import { describe, expect, it } from "vitest";
import { deviceRowKey } from "../../src/storage/importEntities.js";
import { DeviceChangedError, ImportStore } from "../../src/storage/importStore.js";
import { useAzuriteStorage } from "../support/azuriteStorage.js";
import { writeTestBatch } from "../support/storedBatch.js";

/**
 * A create's Graph id is recorded by a write that waits for a claim of the same batch and rides
 * in its transaction: on real Azurite, counting the storage calls each way takes.
 */
const storage = useAzuriteStorage();

/** The imports table, counting the calls that write. */
function countingTable(): { table: TableClient; calls: string[] } {
  const calls: string[] = [];
  const table = new Proxy(storage.clients().imports, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver) as unknown;
      if (typeof value !== "function" || !["updateEntity", "submitTransaction"].includes(String(name)))
        return typeof value === "function" ? value.bind(target) : value;
      return (...args: unknown[]) => {
        calls.push(String(name));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { table, calls };
}

const now = () => new Date().toISOString();

async function claim(store: ImportStore, batchId: string, index: number) {
  const device = (await store.readDevice(batchId, deviceRowKey(index)))!;
  return store.transitionDevice(device, { state: "submitting", attempts: 1, claimedBy: `m${index}`, updatedAt: now() });
}

describe("recording a create's Graph id", () => {
  it("rides with the next claim of the same batch: one transaction for both", async () => {
    const { table, calls } = countingTable();
    const store = new ImportStore(table, undefined, { rideAlongWaitMs: 60_000 });
    const batchId = await writeTestBatch(new ImportStore(storage.clients().imports), 2);
    const first = await claim(store, batchId, 0);
    calls.length = 0;
    const recorded = store.recordOnDevice(first, { graphId: "graph-0", updatedAt: now() });
    await claim(store, batchId, 1);
    await recorded;
    expect(calls).toEqual(["submitTransaction"]);
    expect(await store.readDevice(batchId, deviceRowKey(0))).toMatchObject({ state: "submitting", graphId: "graph-0" });
    expect(await store.readDevice(batchId, deviceRowKey(1))).toMatchObject({ state: "submitting", claimedBy: "m1" });
  });

  it("goes alone when no claim comes within the wait, and several waiting go together", async () => {
    const { table, calls } = countingTable();
    const store = new ImportStore(table, undefined, { rideAlongWaitMs: 50 });
    const batchId = await writeTestBatch(new ImportStore(storage.clients().imports), 3);
    const claimed = [await claim(store, batchId, 0), await claim(store, batchId, 1)];
    const alone = await claim(store, batchId, 2);
    calls.length = 0;
    await Promise.all(claimed.map((device, i) => store.recordOnDevice(device, { graphId: `graph-${i}`, updatedAt: now() })));
    expect(calls).toEqual(["submitTransaction"]);
    calls.length = 0;
    await store.recordOnDevice(alone, { graphId: "graph-2", updatedAt: now() });
    expect(calls).toEqual(["updateEntity"]);
    for (const i of [0, 1, 2]) expect((await store.readDevice(batchId, deviceRowKey(i)))?.graphId).toBe(`graph-${i}`);
  });

  it("fails only the write whose row moved; the claim it rode with lands", async () => {
    const store = new ImportStore(storage.clients().imports, undefined, { rideAlongWaitMs: 60_000 });
    const batchId = await writeTestBatch(store, 2);
    const first = await claim(store, batchId, 0);
    // Another copy moved the row since: the recorded ETag is stale.
    await store.transitionDevice(first, { state: "submitting", attempts: 1, claimedBy: "another", updatedAt: now() });
    const recorded = store.recordOnDevice(first, { graphId: "graph-0", updatedAt: now() }).then(
      () => undefined,
      (error: unknown) => error,
    );
    await claim(store, batchId, 1);
    expect(await recorded).toBeInstanceOf(DeviceChangedError);
    expect((await store.readDevice(batchId, deviceRowKey(0)))?.graphId).toBeUndefined();
    expect(await store.readDevice(batchId, deviceRowKey(1))).toMatchObject({ claimedBy: "m1" });
  });

  it("never rides with a write to another batch", async () => {
    const { table, calls } = countingTable();
    const store = new ImportStore(table, undefined, { rideAlongWaitMs: 100 });
    const batchA = await writeTestBatch(new ImportStore(storage.clients().imports), 1);
    const batchB = await writeTestBatch(new ImportStore(storage.clients().imports), 1);
    const first = await claim(store, batchA, 0);
    calls.length = 0;
    const recorded = store.recordOnDevice(first, { graphId: "graph-a", updatedAt: now() });
    await claim(store, batchB, 0);
    await recorded;
    expect(calls).toEqual(["updateEntity", "updateEntity"]);
  });

  it("holds no more than a few invocations waiting: past the limit, the longest-waiting batch's write goes alone at once", async () => {
    const store = new ImportStore(storage.clients().imports, undefined, { rideAlongWaitMs: 60_000, maxWaitingWrites: 2 });
    const batches = [];
    for (let i = 0; i < 3; i++) batches.push(await writeTestBatch(store, 2));
    const claimed = [];
    for (const batchId of batches) claimed.push(await claim(store, batchId, 0));
    const settled: number[] = [];
    const recorded = claimed.map((device, i) =>
      store.recordOnDevice(device, { graphId: `graph-${i}`, updatedAt: now() }).then(() => void settled.push(i)),
    );
    // The third waiting write passes the limit: the first batch's goes alone, without any claim.
    await recorded[0];
    expect(settled).toEqual([0]);
    // The other two still wait for a carrier; their batches' next claims bring them.
    await claim(store, batches[1]!, 1);
    await claim(store, batches[2]!, 1);
    await Promise.all(recorded);
    for (const [i, batchId] of batches.entries()) expect((await store.readDevice(batchId, deviceRowKey(0)))?.graphId).toBe(`graph-${i}`);
  });
});
