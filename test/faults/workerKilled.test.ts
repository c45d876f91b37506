import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeDevices } from "../support/devices.js";
import { startChildHost, type ChildHost } from "./support/childHost.js";
import { acceptedBatch, post, startFaultWorld, waitFor, type FaultWorld } from "./support/faultWorld.js";
import { printLocalRows, recordScenario } from "./support/resultsTable.js";
import { faultScale } from "./support/scale.js";

/**
 * Scenario 1: the worker process is SIGKILLed after Graph carried out a create and before the
 * outcome was written. The simulator holds every answer for a second (latency), so the moment a
 * create appears in its record, the answer is still on its way; the host is killed then. A fresh
 * host process takes over when the messages become visible again: the claimed rows are resumed,
 * each looks up its importId first, and no device is created a second time.
 */
let world: FaultWorld;
const hosts: ChildHost[] = [];
// Processing visibility shortened from host.json's 5 minutes, so the killed host's messages come back in seconds.
const HOST_SETTINGS = { functionTimeoutMs: 6_000, queues: { visibilityTimeoutMs: 1_000 } };

beforeAll(async () => {
  world = await startFaultWorld({ simulator: { latencyMs: 1_000 } });
});
afterAll(async () => {
  for (const host of hosts) await host.kill();
  await world?.stop();
  printLocalRows();
});

describe("fault 1: worker killed between Graph's create and the outcome", () => {
  it("resumes in a fresh process without a second create", async () => {
    const startedAt = Date.now();
    const count = faultScale({ short: 12, full: 40 });
    const first = await startChildHost(world.hostEnv(), HOST_SETTINGS);
    hosts.push(first);
    const answer = await post(first.api, JSON.stringify({ devices: makeDevices(count, "KILLED") }), "application/json", world.partner.headers);
    const batch = acceptedBatch(answer, count);

    await waitFor("Graph to carry out a first create", () => world.simulator.creates.length > 0, 30_000, 2);
    await first.kill();
    const createdBeforeKill = new Set(world.simulator.creates.map((c) => c.importId));

    // The kill landed inside the window: Graph holds creates whose outcome no row records.
    const rows = await world.deviceRows(batch.batchId);
    const inDoubt = rows.filter((r) => r.state === "submitting" && createdBeforeKill.has(`${batch.batchId}/${r.rowKey}`));
    expect(inDoubt.length, first.output()).toBeGreaterThan(0);
    const requestsBeforeRestart = world.simulator.requestLog.length;

    const second = await startChildHost(world.hostEnv(), HOST_SETTINGS);
    hosts.push(second);
    const ledger = await world.settle([batch], 90_000);
    recordScenario("1. worker killed after Graph's create", ledger, startedAt);

    expect(ledger.lostKeys, second.output()).toEqual([]);
    expect(ledger.duplicatedKeys).toEqual([]);
    expect(ledger.final).toBe(count);
    expect((await world.deviceRows(batch.batchId)).every((r) => r.state === "imported")).toBe(true);
    // The fresh process looked the in-doubt creates up instead of creating them again.
    const lookUps = world.simulator.requestLog.slice(requestsBeforeRestart).filter((r) => r.method === "GET" && r.path.includes("importedWindowsAutopilotDeviceIdentities?"));
    expect(lookUps.length).toBeGreaterThan(0);
  }, 300_000);
});
