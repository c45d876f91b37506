/**
 * The import action scenario of `npm run bench` (issue 13): one tenant's big batch through the
 * import action, the same tenant's devices through per-device creates, and the storage-only
 * ceiling, all in one run at one time scale.
 */
import { QueueClient } from "@azure/storage-queue";
import type { GraphSimulator, SimulatorOptions } from "../src/dev/simulator/index.js";
import { startGraphSimulator } from "../src/dev/simulator/index.js";
import { startAzurite } from "../src/dev/host/azurite.js";
import { makeDevices } from "../test/support/devices.js";
import { startCountingProxy } from "./countingProxy.js";
import { startPipelineUnderTest } from "./pipelineRun.js";

export interface ImportActionFigures {
  devices: number;
  createDevices: number;
  chunkSize: number;
  devicesPerSecond: number;
  createDevicesPerSecond: number;
  speedup: number;
  /** The storage-only rate: messages per second through send, receive and delete. */
  storageCeilingPerSecond: number;
  /** chunkSize × the write budget per second. */
  graphCeilingPerSecond: number;
  ceilingShare: number;
  throttledShare: number;
  storageTransactionsPerDevice: number;
  graphWritesPerDevice: number;
  wallMs: number;
  /** Until the device queue was empty (the last followers dropped). */
  drainedMs: number;
  createWallMs: number;
  counts: Record<string, number>;
  storageByKind: Record<string, number>;
}

export interface ImportActionSetup {
  tenantId: string;
  devices: number;
  createDevices: number;
  chunkSize: number;
  instances: number;
  /** Writes the simulator admits per second (per app per tenant). */
  writesPerSecond: number;
  simulatorOptions: () => SimulatorOptions;
  pipelineEnv: Record<string, string>;
}

export async function importActionScenario(setup: ImportActionSetup, log: (line: string) => void): Promise<ImportActionFigures> {
  const storageCeilingPerSecond = await storageCeiling(Math.min(setup.devices, 5_000), setup.instances);
  log(`  storage-only ceiling: ${Math.round(storageCeilingPerSecond)} messages/s (send, receive, delete, through the counting proxy)`);
  const action = await oneTenant(setup, setup.devices, { IMPORT_CHUNK_SIZE: String(setup.chunkSize) }, "IA");
  log(
    `  import action: ${setup.devices} devices final in ${(action.wallMs / 1000).toFixed(1)} s, queue drained at ${(action.drainedMs / 1000).toFixed(1)} s`,
  );
  const create = await oneTenant(setup, setup.createDevices, { GRAPH_IMPORT_MODE: "create" }, "IC");
  log(`  per-device create: ${setup.createDevices} devices in ${(create.wallMs / 1000).toFixed(1)} s`);
  const devicesPerSecond = setup.devices / (action.wallMs / 1000);
  const createDevicesPerSecond = setup.createDevices / (create.wallMs / 1000);
  const graphCeilingPerSecond = setup.chunkSize * setup.writesPerSecond;
  return {
    devices: setup.devices,
    createDevices: setup.createDevices,
    chunkSize: setup.chunkSize,
    devicesPerSecond,
    createDevicesPerSecond,
    speedup: devicesPerSecond / createDevicesPerSecond,
    storageCeilingPerSecond,
    graphCeilingPerSecond,
    ceilingShare: devicesPerSecond / Math.min(storageCeilingPerSecond, graphCeilingPerSecond),
    throttledShare: action.throttledShare,
    storageTransactionsPerDevice: action.storageTransactionsPerDevice,
    graphWritesPerDevice: action.graphWritesPerDevice,
    wallMs: action.wallMs,
    drainedMs: action.drainedMs,
    createWallMs: create.wallMs,
    counts: action.counts,
    storageByKind: action.storageByKind,
  };
}

/** One batch of one tenant from its POST to its final status; the storage and Graph it cost. */
async function oneTenant(setup: ImportActionSetup, count: number, env: Record<string, string>, prefix: string) {
  const simulator = await startGraphSimulator(setup.simulatorOptions());
  const pipeline = await startPipelineUnderTest(simulator, { ...setup.pipelineEnv, ...env }, setup.instances);
  try {
    const devices = makeDevices(count, prefix);
    const started = Date.now();
    const id = await pipeline.submit(setup.tenantId, devices);
    const done = await pipeline.waitFinal(id, started + 10 * 60_000);
    // The chunks' followers come after the batch is final; their cost is the batch's too.
    const drainedAt = await pipeline.waitDrained(started + 12 * 60_000);
    return {
      wallMs: done.finishedAt - started,
      drainedMs: drainedAt - started,
      counts: done.counts,
      storageTransactionsPerDevice: pipeline.storageRequests() / count,
      storageByKind: Object.fromEntries(Object.entries(pipeline.storageByKind()).map(([k, n]) => [k, n / count])),
      ...graphCost(simulator, setup.tenantId, count),
    };
  } finally {
    await pipeline.stop();
    await simulator.stop();
  }
}

function graphCost(simulator: GraphSimulator, tenantId: string, devices: number) {
  const calls = simulator.requestLog.filter((r) => r.tenantId === tenantId);
  return {
    throttledShare: calls.filter((r) => r.status === 429).length / Math.max(1, calls.length),
    graphWritesPerDevice: calls.filter((r) => r.method !== "GET").length / devices,
  };
}

/**
 * The fastest this machine's Azurite takes one message per device through send, receive and
 * delete, through the same counting proxy the pipeline's storage calls go through: senders and
 * `receivers` receivers (32 messages a receive, as host.json's batchSize) at once, timed from
 * the first send to the last delete.
 */
async function storageCeiling(messages: number, receivers: number): Promise<number> {
  const azurite = await startAzurite();
  const proxy = await startCountingProxy(azurite.ports.queue, "queue");
  try {
    const connection = azurite.connectionString.replace(`:${azurite.ports.queue}/`, `:${proxy.port}/`);
    const queue = new QueueClient(connection, "bench-ceiling");
    await queue.createIfNotExists();
    const body = Buffer.from(
      JSON.stringify({
        v: 1,
        kind: "submit",
        batchId: "00000000-0000-4000-8000-000000000000",
        rowKey: "device-000000",
        attempt: 1,
        slotAt: 0,
        shiftAt: 0,
      }),
    ).toString("base64");
    let sent = 0;
    let deleted = 0;
    const started = performance.now();
    const senders = Array.from({ length: 32 }, async () => {
      while (sent < messages) {
        sent++;
        await queue.sendMessage(body);
      }
    });
    const consumers = Array.from({ length: receivers }, async () => {
      while (deleted < messages) {
        const got = await queue.receiveMessages({ numberOfMessages: 32, visibilityTimeout: 60 });
        if (got.receivedMessageItems.length === 0) {
          await new Promise((resolve) => setTimeout(resolve, 5));
          continue;
        }
        await Promise.all(got.receivedMessageItems.map((m) => queue.deleteMessage(m.messageId, m.popReceipt)));
        deleted += got.receivedMessageItems.length;
      }
    });
    await Promise.all([...senders, ...consumers]);
    return messages / ((performance.now() - started) / 1000);
  } finally {
    await proxy.stop();
    await azurite.stop();
  }
}
