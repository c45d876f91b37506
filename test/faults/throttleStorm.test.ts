import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_WAIT_IN_FUNCTION_MS } from "../../src/worker/pacing.js";
import { makeDevices } from "../support/devices.js";
import { acceptedBatch, post, startFaultWorld, TENANT, type FaultWorld } from "./support/faultWorld.js";
import { printLocalRows, recordScenario } from "./support/resultsTable.js";
import { faultScale } from "./support/scale.js";

/**
 * Scenario 3: a storm of 429s with long Retry-Afters on the tenant's creates. From the
 * simulator's request log: after each 429, no write reaches Graph for that tenant before its
 * Retry-After has passed, except one already committed when the 429 came back (a worker holds
 * its claimed slot up to MAX_WAIT_IN_FUNCTION_MS, plus a request in flight). Throttling is not a
 * failure: with RETRY_MAX_ATTEMPTS at 2, counting even two 429s against a device would fail it.
 */
let world: FaultWorld;
beforeAll(async () => {
  world = await startFaultWorld();
});
afterAll(async () => {
  await world?.stop();
  printLocalRows();
});

const COMMITTED_ALLOWANCE_MS = MAX_WAIT_IN_FUNCTION_MS + 250;

describe("fault 3: a 429 storm with long Retry-Afters", () => {
  it("sends nothing before its time and nothing to poison", async () => {
    const startedAt = Date.now();
    const count = faultScale({ short: 20, full: 60 });
    const retryAfterSeconds = faultScale({ short: 4, full: 10 });
    const storm = faultScale({ short: 3, full: 5 });
    world.simulator.injectFaults({ kind: "status", status: 429, retryAfterSeconds, times: storm, match: { method: "POST" } });
    // Intune's real budget (100 writes per 20 s), so writes are spread as in production.
    const host = await world.startHost(world.hostEnv({ PACING_WINDOW_MS: "20000", PACING_WRITES_PER_WINDOW: "100", RETRY_MAX_ATTEMPTS: "2" }));

    const batch = acceptedBatch(await post(host.api, JSON.stringify({ devices: makeDevices(count, "STORM") }), "application/json", world.partner.headers), count);
    const ledger = await world.settle([batch], 60_000 + storm * retryAfterSeconds * 2_000);
    recordScenario("3. 429 storm, Retry-After " + retryAfterSeconds + " s", ledger, startedAt);

    expect(ledger.lostKeys).toEqual([]);
    expect(ledger.duplicatedKeys).toEqual([]);
    const rows = await world.deviceRows(batch.batchId);
    expect(rows.map((r) => r.state)).toEqual(Array(count).fill("imported"));
    expect(rows.filter((r) => r.failures)).toEqual([]);
    expect((await world.services.storage.poisonQueue.peekMessages({ numberOfMessages: 32 })).peekedMessageItems).toEqual([]);

    const writes = world.simulator.requestLog.filter((r) => r.method !== "GET" && r.tenantId === TENANT);
    const throttled = writes.filter((r) => r.status === 429);
    expect(throttled).toHaveLength(storm);
    const early = throttled.flatMap((t) =>
      writes.filter((w) => w.at > t.at + COMMITTED_ALLOWANCE_MS && w.at < t.at + retryAfterSeconds * 1_000).map((w) => `${w.method} ${w.status} ${w.at - t.at} ms after a 429`),
    );
    expect(early).toEqual([]);
  }, 300_000);
});
