import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { functionDefinitions } from "../../src/app/functionDefinitions.js";
import type { TimerFunctionDefinition } from "../../src/app/functionTypes.js";
import { deviceRowKey } from "../../src/storage/importEntities.js";
import { DEVICE_POISON_QUEUE } from "../../src/storage/names.js";
import { makeDevices } from "../support/devices.js";
import { startStorageChaos, type StorageChaos } from "./support/chaosProxy.js";
import { acceptedBatch, post, startFaultWorld, type FaultWorld } from "./support/faultWorld.js";
import { printLocalRows, recordScenario } from "./support/resultsTable.js";
import { faultScale } from "./support/scale.js";

/**
 * Scenario 7b: a device whose message died. Its processing fails maxDequeueCount times (here its
 * row cannot be read until the message reaches the poison queue), the message goes to the
 * poison queue, and the device ends failed (ProcessingFailed) instead of waiting for ever; the
 * rest of its batch is unaffected. A world of its own: a leftover message of another scenario
 * reaching the poison queue would end the fault early.
 */
let world: FaultWorld;
let chaos: StorageChaos;

beforeAll(async () => {
  world = await startFaultWorld();
  chaos = await startStorageChaos(world.azurite);
});
afterAll(async () => {
  chaos?.setRule(() => "pass");
  await world?.stop();
  await chaos?.stop();
  printLocalRows();
});

describe("fault 7b: a device's message dies", () => {
  it("a device whose message died ends failed, and the rest of its batch imported", async () => {
    const startedAt = Date.now();
    const count = faultScale({ short: 8, full: 40 });
    // host.json's processing visibility (5 minutes) this time: a delivery whose storage retries
    // outlast a short one would run beside the next and race the poison path.
    // Per-device creates: with chunks, the doomed device's leader would import it by a range read
    // this rule does not refuse, and only its follower's message would die, harmlessly. A poisoned
    // chunk leader is test/worker/chunk.integration.test.ts ("fails the devices a poisoned leader had claimed").
    const host = await world.startHost(world.hostEnv({ GRAPH_IMPORT_MODE: "create" }, chaos.connectionString), {
      queues: { visibilityTimeoutMs: 500 },
    });
    const doomed = deviceRowKey(2);
    let poisoned = false;
    // The doomed device's row cannot be read until its message reaches the poison queue.
    chaos.setRule((_, r) => {
      if (r.service === "queue" && r.method === "POST" && r.path.includes(`/${DEVICE_POISON_QUEUE}/messages`)) poisoned = true;
      return !poisoned && r.service === "table" && r.method === "GET" && r.path.includes(`RowKey='${doomed}'`) ? "refuse" : "pass";
    });
    const batch = acceptedBatch(
      await post(host.api, JSON.stringify({ devices: makeDevices(count, "POISONED") }), "application/json", world.partner.headers),
      count,
    );

    // The poison queue is drained by a timer (once a minute in Azure); the fault world's hosts run
    // no timers, so the test runs that timer function, on a shorter period.
    const drain = functionDefinitions.find((d): d is TimerFunctionDefinition => d.kind === "timer" && d.name === "failPoisonedMessages")!;
    const timer = setInterval(() => void drain.handle(world.services).catch(() => undefined), 1_000);
    const ledger = await world.settle([batch], 240_000).finally(() => clearInterval(timer));
    recordScenario("7b. a device's message died (poison)", ledger, startedAt);
    expect(poisoned).toBe(true);
    expect(ledger.lostKeys).toEqual([]);
    expect(ledger.duplicatedKeys).toEqual([]);
    const rows = await world.deviceRows(batch.batchId);
    expect(rows.find((r) => r.rowKey === doomed)).toMatchObject({ state: "failed", errorCode: "ProcessingFailed" });
    expect(rows.filter((r) => r.rowKey !== doomed).map((r) => r.state)).toEqual(Array(count - 1).fill("imported"));
  }, 300_000);
});
