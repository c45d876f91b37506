import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServices, type Services } from "../../src/app/services.js";
import { loadConfig } from "../../src/config/config.js";
import { startGraphSimulator, type GraphSimulator } from "../../src/dev/simulator/index.js";
import { startAzurite, type RunningAzurite } from "../../src/dev/host/azurite.js";
import { submitBatch } from "../../src/intake/submitBatch.js";
import { silentLogger } from "../../src/telemetry/logging.js";
import type { DeviceMessage } from "../../src/storage/deviceMessage.js";
import type { DeviceMessageSender } from "../../src/storage/deviceQueue.js";
import { DeviceChangedError, type ImportStore } from "../../src/storage/importStore.js";
import { processDeviceMessage } from "../../src/worker/processDeviceMessage.js";
import type { WorkerDeps } from "../../src/worker/createAttempt.js";
import { hashFor } from "../support/devices.js";
import { withInlineFanOut } from "../support/inlineFanOut.js";

/**
 * Found by the fault suite (scenario 2, storage cut mid-batch): a device write whose answer is
 * lost lands anyway, the storage client's retry then fails the ETag check, and the worker took
 * that for "another copy moved the device" and dropped its message, leaving the device claimed
 * (or retrying) with no message for ever. Here the store lands the write, then throws as the
 * retry would, on real Azurite and the simulator.
 */
let azurite: RunningAzurite;
let simulator: GraphSimulator;
let services: Services;
const sent: DeviceMessage[] = [];
const recorder: DeviceMessageSender = { send: async (message) => void sent.push(message) };

beforeAll(async () => {
  azurite = await startAzurite();
  simulator = await startGraphSimulator({ settleDelayMs: 60_000 });
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

/** The real store, except that the first transition into `state` lands and then reports the row changed. */
function losingAnswerTo(state: string): ImportStore {
  let lost = false;
  return new Proxy(services.store, {
    get(target, name, receiver) {
      if (name !== "transitionDevice") return Reflect.get(target, name, receiver);
      return async (...args: Parameters<ImportStore["transitionDevice"]>) => {
        const written = await target.transitionDevice(...args);
        if (!lost && args[1].state === state) {
          lost = true;
          throw new DeviceChangedError(args[0].partitionKey, args[0].rowKey);
        }
        return written;
      };
    },
  });
}

let serial = 0;
async function oneDevice(): Promise<{ batchId: string; serialNumber: string }> {
  const serialNumber = `LOSTWRITE-${++serial}`;
  const { batchId } = await submitBatch(
    withInlineFanOut({ ...services, queue: recorder, enqueueConcurrency: 1, firstPollDelayMs: 1_000 }, services.fanOutProgress),
    {
      partnerId: "lost-write",
      tenantId: "aaaaaaaa-0000-4000-8000-0000000000c1",
      devices: [{ serialNumber, hardwareIdentifier: hashFor(serialNumber, 9_000 + serial) }],
    },
    "json",
  );
  return { batchId, serialNumber };
}

function deps(store: ImportStore): WorkerDeps {
  return {
    ...services,
    store,
    queue: recorder,
    retry: services.config.retry,
    listGraceMs: services.config.graph.listGraceMs,
    random: () => 0,
  };
}
const submit = (batchId: string): DeviceMessage => ({ v: 1, kind: "submit", batchId, rowKey: "device-000000", attempt: 1 });

describe("a device write whose answer was lost", () => {
  it("the claim landed: the same message resumes and creates the device once", async () => {
    const { batchId, serialNumber } = await oneDevice();
    const outcome = await processDeviceMessage(deps(losingAnswerTo("submitting")), submit(batchId), { id: "msg-claim", dequeueCount: 1 });
    expect(outcome).toBe("submitted");
    // Graph took the record; the row stays with this attempt until the batch's next poll round records it.
    expect(await services.store.readDevice(batchId, "device-000000")).toMatchObject({
      state: "submitting",
      attempts: 1,
      claimedBy: "msg-claim",
    });
    expect(simulator.creates.filter((c) => c.serialNumber === serialNumber)).toHaveLength(1);
  });

  it("the move to retrying landed: the next attempt's message is still sent", async () => {
    const { batchId, serialNumber } = await oneDevice();
    simulator.injectFaults({ kind: "status", status: 503, times: 1, match: { serialNumber } });
    sent.length = 0;
    const outcome = await processDeviceMessage(deps(losingAnswerTo("retrying")), submit(batchId), { id: "msg-retry", dequeueCount: 1 });
    expect(outcome).toBe("retry-scheduled");
    expect((await services.store.readDevice(batchId, "device-000000"))?.state).toBe("retrying");
    expect(sent.filter((m) => m.kind === "submit" && m.batchId === batchId)).toEqual([expect.objectContaining({ attempt: 2 })]);
  });

  it("another copy holds the device: still dropped", async () => {
    const { batchId } = await oneDevice();
    const first = await processDeviceMessage(deps(services.store), submit(batchId), { id: "msg-a", dequeueCount: 1 });
    expect(first).toBe("submitted");
    expect(await processDeviceMessage(deps(services.store), submit(batchId), { id: "msg-b", dequeueCount: 1 })).toBe("stale");
  });
});
