import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServices, type Services } from "../../src/app/services.js";
import { cancelBatch } from "../../src/batches/cancelBatch.js";
import { loadConfig } from "../../src/config/config.js";
import { startGraphSimulator, type GraphSimulator } from "../../src/dev/simulator/index.js";
import { startAzurite, type RunningAzurite } from "../../src/dev/host/azurite.js";
import { submitBatch } from "../../src/intake/submitBatch.js";
import { silentLogger } from "../../src/telemetry/logging.js";
import type { DeviceMessage } from "../../src/storage/deviceMessage.js";
import { processDeviceMessage } from "../../src/worker/processDeviceMessage.js";
import { hashFor } from "../support/devices.js";
import { withInlineFanOut } from "../support/inlineFanOut.js";

/**
 * A cancel meets a device a worker already holds, driven one message at a time against Azurite
 * and the simulator: the attempt finishes, and only an attempt that failed without creating
 * anything ends the device as canceled.
 */
let azurite: RunningAzurite;
let simulator: GraphSimulator;
let services: Services;
const sent: DeviceMessage[] = [];
const queue = { send: async (message: DeviceMessage) => void sent.push(message) };
const caller = { partnerId: "cancel-test", tenants: [], via: "api-key" as const };

beforeAll(async () => {
  azurite = await startAzurite();
  simulator = await startGraphSimulator({ settleDelayMs: 0 });
  services = await createServices(
    loadConfig({
      AzureWebJobsStorage: azurite.connectionString,
      GRAPH_BASE_URL: simulator.url,
      GRAPH_CREDENTIAL: "simulator",
      PACING_WRITES_PER_WINDOW: "10000000",
    }),
    silentLogger,
  );
});
afterAll(async () => {
  await simulator?.stop();
  await azurite?.stop();
});

let n = 0;
async function oneDevice(): Promise<{ batchId: string; serialNumber: string; message: DeviceMessage }> {
  const serialNumber = `CIF-${++n}-${Date.now()}`;
  sent.length = 0;
  const { batchId } = await submitBatch(
    withInlineFanOut({ ...services, queue, enqueueConcurrency: 1, firstPollDelayMs: 0 }, services.fanOutProgress),
    {
      partnerId: caller.partnerId,
      tenantId: `cccccccc-0000-4000-8000-0000000000${String(n).padStart(2, "0")}`,
      devices: [{ serialNumber, hardwareIdentifier: hashFor(serialNumber, 5000 + n) }],
    },
    "json",
  );
  const message = sent.find((m) => m.kind === "submit")!;
  return { batchId, serialNumber, message: { ...message, slotAt: undefined } };
}

const worker = () => ({
  ...services,
  queue,
  retry: services.config.retry,
  listGraceMs: services.config.graph.listGraceMs,
  random: () => 0,
});

describe("a cancel while a create is in flight", () => {
  it("cancels the device when its attempt failed with nothing created (503), and sends no retry", async () => {
    const { batchId, serialNumber, message } = await oneDevice();
    simulator.injectFaults({ kind: "status", status: 503, times: 1, match: { serialNumber } });
    // The worker's claim won the race: the cancel finds nothing to cancel but marks the batch.
    await services.store.markCanceled(batchId, new Date().toISOString());
    sent.length = 0;
    expect(await processDeviceMessage(worker(), message, { id: "d1", dequeueCount: 1 })).toBe("canceled");
    expect(sent).toEqual([]);
    expect((await services.store.readSummary(batchId))?.counts).toMatchObject({ canceled: 1, queued: 0, retrying: 0 });
  });

  it("keeps retrying a device whose failed attempt may have created a record (500), so it is never left unwatched", async () => {
    const { batchId, serialNumber, message } = await oneDevice();
    simulator.injectFaults({ kind: "status", status: 500, times: 1, match: { serialNumber } });
    await services.store.markCanceled(batchId, new Date().toISOString());
    sent.length = 0;
    expect(await processDeviceMessage(worker(), message, { id: "d2", dequeueCount: 1 })).toBe("retry-scheduled");
    expect(sent.map((m) => [m.kind, m.attempt])).toEqual([["submit", 2]]);
    const device = await services.store.readDevice(batchId, message.rowKey);
    expect(device).toMatchObject({ state: "retrying", inDoubt: true });
    // And a cancel now leaves it alone too.
    const answer = await cancelBatch(
      { ...services, queue, enqueueConcurrency: 1, firstPollDelayMs: 0, retryAfterSeconds: 1 },
      batchId,
      caller,
    );
    expect(JSON.parse(answer.body!).canceledDevices).toBe(0);
  });

  it("drops the message of a device the cancel got to first: nothing reaches Graph", async () => {
    const { batchId, serialNumber, message } = await oneDevice();
    const answer = await cancelBatch(
      { ...services, queue, enqueueConcurrency: 1, firstPollDelayMs: 0, retryAfterSeconds: 1 },
      batchId,
      caller,
    );
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body!)).toMatchObject({ canceledDevices: 1, batch: { status: "canceled" } });
    expect(await processDeviceMessage(worker(), message, { id: "d3", dequeueCount: 1 })).toBe("stale");
    expect(simulator.creates.some((c) => c.serialNumber === serialNumber)).toBe(false);
  });
});
