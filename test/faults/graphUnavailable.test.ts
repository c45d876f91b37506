import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeDevices } from "../support/devices.js";
import { acceptedBatch, post, startFaultWorld, TENANT, waitFor, type FaultWorld } from "./support/faultWorld.js";
import { printLocalRows, recordScenario } from "./support/resultsTable.js";
import { faultScale } from "./support/scale.js";

/**
 * Scenario 10: Intune unavailable for a long while. From a third of the way into the batch, every
 * Graph request, reads and writes, is answered 503 with Retry-After for `outageMs` (the facts
 * sheet: "503 may carry Retry-After too"). A 503 that says how long to wait pauses the tenant as a
 * 429 does (asksTenantToWait) and counts no failure: with RETRY_MAX_ATTEMPTS at 2, two counted 503s
 * would fail a device. Every device ends imported once Graph is back, none failed or poisoned.
 */
let world: FaultWorld;
beforeAll(async () => {
  world = await startFaultWorld();
});
afterAll(async () => {
  await world?.stop();
  printLocalRows();
});

describe("fault 10: Graph answers 503 with Retry-After for a long while", () => {
  it("pauses the tenant and resumes: every device imported once, none failed", async () => {
    const startedAt = Date.now();
    const count = faultScale({ short: 60, full: 300 });
    const outageMs = faultScale({ short: 8_000, full: 40_000 });
    const retryAfterSeconds = faultScale({ short: 2, full: 5 });
    // Chunks of 2 at 10 writes a second: the batch is 30 (full: 150) import actions, so the outage falls mid-batch.
    const host = await world.startHost(
      world.hostEnv({ IMPORT_CHUNK_SIZE: "2", RETRY_MAX_ATTEMPTS: "2", PACING_WINDOW_MS: "2000", PACING_WRITES_PER_WINDOW: "20" }),
    );
    const batch = acceptedBatch(
      await post(host.api, JSON.stringify({ devices: makeDevices(count, "UNAVAILABLE") }), "application/json", world.partner.headers),
      count,
    );
    await waitFor("a third of the batch to be created", () => world.simulator.creates.length >= count / 3, 60_000, 5);
    const createdBefore = world.simulator.creates.length;
    world.simulator.injectFaults({ kind: "status", status: 503, retryAfterSeconds, forMs: outageMs, errorCode: "ServiceUnavailable" });

    const ledger = await world.settle([batch], 120_000 + outageMs);
    recordScenario(`10. Graph 503 + Retry-After for ${outageMs / 1000} s`, ledger, startedAt);
    expect(ledger.lostKeys).toEqual([]);
    expect(ledger.duplicatedKeys).toEqual([]);
    const rows = await world.deviceRows(batch.batchId);
    expect(rows.map((r) => r.state)).toEqual(Array(count).fill("imported"));
    expect(rows.filter((r) => r.failures)).toEqual([]);
    expect((await world.services.storage.poisonQueue.peekMessages({ numberOfMessages: 32 })).peekedMessageItems).toEqual([]);
    // The outage acted (on the import actions at least) and fell mid-batch.
    const unavailable = world.simulator.requestLog.filter((r) => r.status === 503 && r.tenantId === TENANT);
    expect(unavailable.some((r) => r.method === "POST")).toBe(true);
    expect(createdBefore).toBeLessThan(count);
  }, 300_000);
});
