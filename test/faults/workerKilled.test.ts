import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeDevices } from "../support/devices.js";
import { startChildHost, type ChildHost } from "./support/childHost.js";
import { acceptedBatch, post, startFaultWorld, waitFor, type FaultWorld } from "./support/faultWorld.js";
import { printLocalRows, recordScenario } from "./support/resultsTable.js";
import { faultScale } from "./support/scale.js";

/**
 * Scenario 1: the worker process is SIGKILLed after Graph carried out a create (1a, per-device
 * creates) or an import action (1b, the default: one request for a chunk of devices) and before
 * the outcome was written. The simulator holds every answer for a second (latency), so the moment a
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
  it("resumes in a fresh process without a second create (per-device creates)", async () => {
    const startedAt = Date.now();
    const count = faultScale({ short: 12, full: 40 });
    const first = await startChildHost(world.hostEnv({ GRAPH_IMPORT_MODE: "create" }), HOST_SETTINGS);
    hosts.push(first);
    const answer = await post(
      first.api,
      JSON.stringify({ devices: makeDevices(count, "KILLED") }),
      "application/json",
      world.partner.headers,
    );
    const batch = acceptedBatch(answer, count);

    await waitFor("Graph to carry out a first create", () => world.simulator.creates.length > 0, 30_000, 2);
    await first.kill();
    const createdBeforeKill = new Set(world.simulator.creates.map((c) => c.importId));

    // The kill landed inside the window: Graph holds creates whose outcome no row records.
    const rows = await world.deviceRows(batch.batchId);
    const inDoubt = rows.filter((r) => r.state === "submitting" && createdBeforeKill.has(`${batch.batchId}/${r.rowKey}`));
    expect(inDoubt.length, first.output()).toBeGreaterThan(0);
    const requestsBeforeRestart = world.simulator.requestLog.length;

    const second = await startChildHost(world.hostEnv({ GRAPH_IMPORT_MODE: "create" }), HOST_SETTINGS);
    hosts.push(second);
    const ledger = await world.settle([batch], 90_000);
    recordScenario("1a. worker killed after Graph's create", ledger, startedAt);

    expect(ledger.lostKeys, second.output()).toEqual([]);
    expect(ledger.duplicatedKeys).toEqual([]);
    expect(ledger.final).toBe(count);
    expect((await world.deviceRows(batch.batchId)).every((r) => r.state === "imported")).toBe(true);
    // The fresh process looked the in-doubt creates up instead of creating them again.
    const lookUps = world.simulator.requestLog
      .slice(requestsBeforeRestart)
      .filter((r) => r.method === "GET" && r.path.includes("importedWindowsAutopilotDeviceIdentities?"));
    expect(lookUps.length).toBeGreaterThan(0);
  }, 300_000);

  it("resumes in a fresh process without a second import of any device of the chunk (import action)", async () => {
    const startedAt = Date.now();
    const count = faultScale({ short: 30, full: 250 });
    const creates = () => world.simulator.creates.filter((c) => c.importId?.startsWith(`${batch.batchId}/`));
    const first = await startChildHost(world.hostEnv({ IMPORT_CHUNK_SIZE: "100" }), HOST_SETTINGS);
    hosts.push(first);
    const answer = await post(
      first.api,
      JSON.stringify({ devices: makeDevices(count, "CHUNKKILL") }),
      "application/json",
      world.partner.headers,
    );
    const batch = acceptedBatch(answer, count);

    // The action's answer is held back a second (latency): the host dies while it is on its way.
    await waitFor("Graph to carry out a first import action", () => creates().length > 0, 30_000, 2);
    await first.kill();
    const createdBeforeKill = new Set(creates().map((c) => c.importId));

    // Graph holds records of a whole chunk that no row records: every one of its devices is claimed, without an id.
    const rows = await world.deviceRows(batch.batchId);
    const inDoubt = rows.filter((r) => r.state === "submitting" && createdBeforeKill.has(`${batch.batchId}/${r.rowKey}`));
    expect(inDoubt.length, first.output()).toBeGreaterThan(1);
    const requestsBeforeRestart = world.simulator.requestLog.length;

    const second = await startChildHost(world.hostEnv({ IMPORT_CHUNK_SIZE: "100" }), HOST_SETTINGS);
    hosts.push(second);
    const ledger = await world.settle([batch], 120_000);
    recordScenario("1b. worker killed after the import action", ledger, startedAt);

    expect(ledger.lostKeys, second.output()).toEqual([]);
    expect(ledger.duplicatedKeys).toEqual([]);
    expect(ledger.final).toBe(count);
    expect((await world.deviceRows(batch.batchId)).every((r) => r.state === "imported")).toBe(true);
    // The chunk's devices were found by serial number, one walk for the chunk, not imported again.
    const after = world.simulator.requestLog.slice(requestsBeforeRestart);
    expect(after.filter((r) => r.method === "GET" && r.path.includes("importedWindowsAutopilotDeviceIdentities?")).length).toBeGreaterThan(
      0,
    );
    expect(creates()).toHaveLength(count);
    // One import action for each chunk (1a used creates): the fresh process sent no second one for the chunk in flight.
    expect(world.simulator.requestLog.filter((r) => r.method === "POST" && r.path.endsWith("/import"))).toHaveLength(
      Math.ceil(count / 100),
    );
  }, 300_000);

  it("resumes after repeated kills mid-batch, leaders waiting for their slots: every device once", async () => {
    const startedAt = Date.now();
    const count = faultScale({ short: 40, full: 120 });
    const kills = faultScale({ short: 3, full: 6 });
    // Chunks of 4 at 2 writes a second: each leader comes ahead of its slot and waits for it inside its
    // function (pacing.ts, MAX_WAIT_IN_FUNCTION_MS), so a kill finds one action's answer on its way and
    // the next leader holding its slot. Its message comes back after the visibility, late, and takes a new slot.
    const env = world.hostEnv({ IMPORT_CHUNK_SIZE: "4", PACING_WINDOW_MS: "4000", PACING_WRITES_PER_WINDOW: "8" });
    let host = await startChildHost(env, HOST_SETTINGS);
    hosts.push(host);
    const batch = acceptedBatch(
      await post(host.api, JSON.stringify({ devices: makeDevices(count, "SLOTKILL") }), "application/json", world.partner.headers),
      count,
    );
    const creates = () => world.simulator.creates.filter((c) => c.importId?.startsWith(`${batch.batchId}/`)).length;
    const createdAtKill: number[] = [];
    // Up to `kills` times, while devices are still to come: a kill after each next import action.
    for (let k = 0; k < kills && creates() < count; k++) {
      const before = creates();
      await waitFor("the batch's next import action", () => creates() > before || creates() >= count, 60_000, 2);
      createdAtKill.push(creates());
      await host.kill();
      host = await startChildHost(env, HOST_SETTINGS);
      hosts.push(host);
    }
    // The first kill fell mid-batch (later ones may come after the last action, as the fresh hosts catch up).
    expect(createdAtKill[0]).toBeLessThan(count);

    const ledger = await world.settle([batch], 120_000);
    recordScenario("1c. worker killed repeatedly, leaders holding slots", ledger, startedAt);
    expect(ledger.lostKeys, host.output()).toEqual([]);
    expect(ledger.duplicatedKeys).toEqual([]);
    expect(ledger.final).toBe(count);
    expect((await world.deviceRows(batch.batchId)).every((r) => r.state === "imported")).toBe(true);
  }, 300_000);
});
