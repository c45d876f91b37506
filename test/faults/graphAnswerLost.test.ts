import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeDevices } from "../support/devices.js";
import { acceptedBatch, post, startFaultWorld, type FaultWorld } from "./support/faultWorld.js";
import { printLocalRows, recordScenario } from "./support/resultsTable.js";
import { faultScale } from "./support/scale.js";

/**
 * Scenario 4: Graph carries out the create, then its answer is lost: a 504 from a gateway, or a
 * connection dropped before any answer. The worker cannot tell whether the device exists, so it
 * must look its importId up before creating again.
 */
let world: FaultWorld;
beforeAll(async () => {
  world = await startFaultWorld();
});
afterAll(async () => {
  await world?.stop();
  printLocalRows();
});

describe("fault 4: Graph creates the device, then the answer is lost", () => {
  it("finds the created record instead of creating it again", async () => {
    const startedAt = Date.now();
    const count = faultScale({ short: 16, full: 60 });
    const lost = faultScale({ short: 3, full: 10 });
    const create = { method: "POST", pathIncludes: "importedWindowsAutopilotDeviceIdentities" };
    world.simulator.injectFaults({ kind: "succeedThenFail", status: 504, times: lost, match: create });
    world.simulator.injectFaults({ kind: "succeedThenFail", status: 0, times: lost, match: create });
    // Chunks of 2: 8 import actions (full: 30), enough for every lost answer to fall on one; each
    // chunk whose answer was lost is looked up by serial number at its next attempt.
    const host = await world.startHost(world.hostEnv({ IMPORT_CHUNK_SIZE: "2" }));

    const batch = acceptedBatch(
      await post(host.api, JSON.stringify({ devices: makeDevices(count, "LOSTANSWER") }), "application/json", world.partner.headers),
      count,
    );
    const ledger = await world.settle([batch], 60_000);
    recordScenario("4. Graph's answer lost (504, dropped)", ledger, startedAt);

    expect(ledger.lostKeys).toEqual([]);
    expect(ledger.duplicatedKeys).toEqual([]);
    expect((await world.deviceRows(batch.batchId)).map((r) => r.state)).toEqual(Array(count).fill("imported"));
    // Both faults really fired: creates carried out whose answers were a 504 or nothing.
    const posts = world.simulator.requestLog.filter((r) => r.method === "POST");
    expect(posts.filter((r) => r.status === 504)).toHaveLength(lost);
    expect(posts.filter((r) => r.status === 0)).toHaveLength(lost);
    expect(world.simulator.creates).toHaveLength(count);
  }, 300_000);
});
