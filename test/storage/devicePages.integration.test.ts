import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomUUID } from "node:crypto";
import { createServices, type Services } from "../../src/app/services.js";
import { fanOutDeps } from "../../src/app/serviceDeps.js";
import { loadConfig } from "../../src/config/config.js";
import { startAzurite, type RunningAzurite } from "../../src/dev/host/azurite.js";
import { fanOutBatch } from "../../src/intake/fanOutBatch.js";
import type { FanOutMessage } from "../../src/intake/fanOutMessage.js";
import { submitBatch } from "../../src/intake/submitBatch.js";
import { packPages } from "../../src/storage/devicePages.js";
import { BATCH_ROW_KEY, deviceRowKey, type BatchEntity, type DeviceEntity } from "../../src/storage/importEntities.js";
import type { DeviceMessage } from "../../src/storage/deviceMessage.js";
import { silentLogger } from "../../src/telemetry/logging.js";
import { makeDevices } from "../support/devices.js";

/** Device pages on real Azurite: written as intake writes them, turned into rows, read with the rows. */
let azurite: RunningAzurite;
let services: Services;

beforeAll(async () => {
  azurite = await startAzurite();
  services = await createServices(
    loadConfig({ AzureWebJobsStorage: azurite.connectionString, PACING_WRITES_PER_WINDOW: "10000000" }),
    silentLogger,
  );
});
afterAll(async () => azurite?.stop());

const createdAt = "2026-12-07T00:00:00.000Z";

async function pagedBatch(deviceCount: number): Promise<{ batchId: string; devices: DeviceEntity[] }> {
  const batchId = randomUUID();
  const batch: BatchEntity = {
    partitionKey: batchId,
    rowKey: BATCH_ROW_KEY,
    partnerId: "pages",
    tenantId: "contoso.onmicrosoft.com",
    deviceCount,
    source: "json",
    intakeState: "enqueueing",
    createdAt,
  };
  const devices: DeviceEntity[] = makeDevices(deviceCount, "PAGE").map((d, index) => ({
    partitionKey: batchId,
    rowKey: deviceRowKey(index),
    index,
    serialNumber: d.serialNumber,
    hardwareIdentifier: d.hardwareIdentifier,
    productKey: `KEY-${index}`,
    tenantId: batch.tenantId,
    state: "queued",
    attempts: 0,
    createdAt,
    updatedAt: createdAt,
  }));
  await services.store.writeBatch(batch, 4, packPages(batchId, devices));
  return { batchId, devices };
}

async function listAll(batchId: string, pageSize: number, state?: "queued" | "submitting"): Promise<DeviceEntity[]> {
  const all: DeviceEntity[] = [];
  let from: number | undefined = 0;
  while (from !== undefined) {
    const page = await services.store.listDevicesByIndex(batchId, { pageSize, from, ...(state ? { state } : {}) });
    all.push(...page.devices);
    from = page.nextIndex;
  }
  return all;
}

describe("device pages", () => {
  it("turn into exactly the rows intake would have written, once: the page goes in the same transaction", async () => {
    const { batchId, devices } = await pagedBatch(150);
    const keys = await services.store.readPageKeys(batchId, 0, 150);
    expect(keys.map((p) => [p.first, p.count])).toEqual([
      [0, 99],
      [99, 51],
    ]);
    const pages = await Promise.all(keys.map((k) => services.store.readPage(batchId, k.rowKey)));
    expect(await services.store.expandPage(pages[0]!)).toBe(true);
    const rows = await services.store.readDeviceRange(batchId, deviceRowKey(0), 150);
    expect(rows.map(({ etag: _etag, ...row }) => row)).toEqual(devices.slice(0, 99));
    expect((await services.store.readPageKeys(batchId, 0, 150)).map((p) => p.first)).toEqual([99]);
    expect(await services.store.readPage(batchId, keys[0]!.rowKey)).toBeUndefined();

    // A second worker with the same page in hand: nothing written, the rows as they are.
    await services.store.moveDevices([{ device: rows[0]!, changes: { state: "submitting", updatedAt: createdAt } }]);
    expect(await services.store.expandPage(pages[0]!)).toBe(false);
    expect((await services.store.readDevice(batchId, deviceRowKey(0)))?.state).toBe("submitting");
  });

  it("are listed with the rows in device order, as queued, without secrets, page by page", async () => {
    const { batchId } = await pagedBatch(250);
    const [, middle] = await services.store.readPageKeys(batchId, 0, 250);
    await services.store.expandPage((await services.store.readPage(batchId, middle!.rowKey))!);
    const moved = await services.store.readDevice(batchId, deviceRowKey(120));
    await services.store.moveDevices([{ device: moved!, changes: { state: "submitting", updatedAt: createdAt } }]);

    for (const pageSize of [1, 37, 100, 1000]) {
      const all = await listAll(batchId, pageSize);
      expect(all.map((d) => d.index)).toEqual(Array.from({ length: 250 }, (_, i) => i));
      expect(all.filter((d) => d.state !== "queued").map((d) => d.index)).toEqual([120]);
      for (const d of all) expect(d).not.toHaveProperty("hardwareIdentifier");
      for (const d of all) expect(d).not.toHaveProperty("productKey");
    }
    expect((await listAll(batchId, 50, "queued")).length).toBe(249);
    expect((await listAll(batchId, 50, "submitting")).map((d) => d.index)).toEqual([120]);
  });

  it("of a batch canceled before its fan-out wrote them become canceled rows, with exact counts, and no message goes", async () => {
    const sent: DeviceMessage[] = [];
    const fanOuts: FanOutMessage[] = [];
    const accepted = await submitBatch(
      {
        store: services.store,
        journal: services.journal,
        queue: { send: async (m) => void sent.push(m) },
        pacing: services.pacing,
        enqueueConcurrency: 4,
        fanOut: { send: async (m) => void fanOuts.push(m) },
        fanOutRangeDevices: 100,
        firstPollDelayMs: 1_000,
        chunking: { size: 10, followerDelayMs: 60_000 },
        log: silentLogger,
      },
      { partnerId: "pages", tenantId: "contoso.onmicrosoft.com", devices: makeDevices(250, "CANCEL") },
      "json",
    );
    expect(fanOuts).toHaveLength(3);
    // The first range goes out before the cancel; the other two come after it.
    const deps = { ...fanOutDeps(services), queue: { send: async (m: DeviceMessage) => void sent.push(m) } };
    expect(await fanOutBatch(deps, fanOuts[0]!)).toBe("sent");
    const beforeCancel = sent.filter((m) => m.kind === "submit").length;
    expect(beforeCancel).toBe(100);
    await services.store.markCanceled(accepted.batchId, new Date().toISOString());
    expect(await fanOutBatch(deps, fanOuts[1]!)).toBe("canceled");
    expect(await fanOutBatch(deps, fanOuts[2]!)).toBe("canceled");
    expect(sent.filter((m) => m.kind === "submit")).toHaveLength(beforeCancel);

    const rows = await services.store.readDeviceRange(accepted.batchId, deviceRowKey(0), 250);
    expect(rows.map((r) => r.state)).toEqual([...Array(100).fill("queued"), ...Array(150).fill("canceled")]);
    const summary = await services.store.readSummary(accepted.batchId);
    expect(summary?.counts).toMatchObject({ queued: 100, canceled: 150 });
    expect(await services.store.readPageKeys(accepted.batchId, 0, 250)).toEqual([]);
    expect(summary?.batch.intakeState).toBe("accepted");
  });
});
