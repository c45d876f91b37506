import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deviceRowKey } from "../../src/storage/importEntities.js";
import { makeDevices } from "../support/devices.js";
import { acceptedBatch, post, startFaultWorld, type FaultWorld } from "./support/faultWorld.js";
import { printLocalRows, recordScenario } from "./support/resultsTable.js";
import { faultScale } from "./support/scale.js";

/**
 * Scenario 6: devices Graph always rejects, in both ways it can: the request that carries it
 * refused (400, every time: the chunk's import action, then each half holding it, then its own
 * create) and an import Intune ends in error (802, invalid hash). Each ends failed with its code,
 * and the rest of the batch is imported as if nothing happened.
 */
let world: FaultWorld;
beforeAll(async () => {
  world = await startFaultWorld();
});
afterAll(async () => {
  await world?.stop();
  printLocalRows();
});

describe("fault 6: a device Graph always rejects", () => {
  it("fails that device with its code and imports the rest", async () => {
    const startedAt = Date.now();
    const count = faultScale({ short: 12, full: 50 });
    const devices = makeDevices(count, "REJECTED");
    const refused = 3;
    const invalid = 7;
    world.simulator.injectFaults({ kind: "status", status: 400, match: { method: "POST", serialNumber: devices[refused]!.serialNumber } });
    world.simulator.rejectHash(devices[invalid]!.hardwareIdentifier);
    const host = await world.startHost();

    const batch = acceptedBatch(await post(host.api, JSON.stringify({ devices }), "application/json", world.partner.headers), count);
    const ledger = await world.settle([batch], 60_000);
    recordScenario("6. a device Graph always rejects", ledger, startedAt);

    expect(ledger.lostKeys).toEqual([]);
    expect(ledger.duplicatedKeys).toEqual([]);
    const rows = await world.deviceRows(batch.batchId);
    const byKey = new Map(rows.map((r) => [r.rowKey, r]));
    expect(byKey.get(deviceRowKey(refused))).toMatchObject({ state: "failed", errorCode: "BadRequest" });
    expect(byKey.get(deviceRowKey(invalid))).toMatchObject({ state: "failed", errorCode: "802" });
    const others = rows.filter((r) => r.rowKey !== deviceRowKey(refused) && r.rowKey !== deviceRowKey(invalid));
    expect(others.map((r) => r.state)).toEqual(Array(count - 2).fill("imported"));
    // A 4xx is not retried as such: the chunk holding the refused device is halved until it stands
    // alone (one refused request per halving, then its own create), and it was never created.
    const refusals = world.simulator.requestLog.filter((r) => r.method === "POST" && r.status === 400);
    expect(refusals.length).toBeLessThanOrEqual(Math.ceil(Math.log2(count)) + 1);
    expect(refusals.at(-1)!.path.endsWith("/import")).toBe(false);
    expect(world.simulator.creates.some((c) => c.serialNumber === devices[refused]!.serialNumber)).toBe(false);
  }, 300_000);
});
