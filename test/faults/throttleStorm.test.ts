import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_WAIT_IN_FUNCTION_MS } from "../../src/model/pacing.js";
import { makeDevices } from "../support/devices.js";
import { acceptedBatch, post, sleep, startFaultWorld, TENANT, type FaultWorld } from "./support/faultWorld.js";
import { printLocalRows, recordScenario } from "./support/resultsTable.js";
import { faultScale } from "./support/scale.js";

/**
 * Scenario 3: a storm of 429s with long Retry-Afters on the tenant's creates. Two records are
 * compared: the simulator's request log (when each 429 was answered, when each write arrived)
 * and the tenant's pause in its pacing row, watched while the batch runs (when the pipeline
 * recorded the 429, and until when it pauses). Every 429 leads to a pause lasting at least its
 * Retry-After, and once a pause is recorded no write reaches Graph before it ends, except one
 * already committed (a worker holds its claimed slot up to MAX_WAIT_IN_FUNCTION_MS, plus a
 * request in flight). Writes decided between Graph's 429 and the pause being recorded are not
 * avoidable (another instance learns of a pause when it next reads the schedule) and not counted.
 * Throttling is not a failure: with RETRY_MAX_ATTEMPTS at 2, counting even two 429s against a
 * device would fail it.
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

/** Polls the tenant's pacing row and keeps every pause it shows, with when it was first seen. */
function watchPauses(w: FaultWorld): { stop(): Promise<{ until: number; seenAt: number }[]> } {
  const seen: { until: number; seenAt: number }[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const row = await w.services.storage.pacing.getEntity<{ pausedUntil?: number }>(TENANT, "writes").catch(() => undefined);
      const until = Number(row?.pausedUntil ?? 0);
      if (until > 0 && !seen.some((p) => p.until === until)) seen.push({ until, seenAt: Date.now() });
      await sleep(20);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return seen;
    },
  };
}

describe("fault 3: a 429 storm with long Retry-Afters", () => {
  it("sends nothing before its time and nothing to poison", async () => {
    const startedAt = Date.now();
    const count = faultScale({ short: 20, full: 60 });
    const retryAfterSeconds = faultScale({ short: 4, full: 10 });
    const storm = faultScale({ short: 3, full: 5 });
    world.simulator.injectFaults({ kind: "status", status: 429, retryAfterSeconds, times: storm, match: { method: "POST" } });
    // Intune's real budget (100 writes per 20 s), so writes are spread as in production.
    const host = await world.startHost(
      world.hostEnv({ PACING_WINDOW_MS: "20000", PACING_WRITES_PER_WINDOW: "100", RETRY_MAX_ATTEMPTS: "2" }),
    );

    const pauses = watchPauses(world);
    const batch = acceptedBatch(
      await post(host.api, JSON.stringify({ devices: makeDevices(count, "STORM") }), "application/json", world.partner.headers),
      count,
    );
    const ledger = await world.settle([batch], 60_000 + storm * retryAfterSeconds * 2_000);
    const recorded = await pauses.stop();
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
    // Each 429 was recorded as a pause at least as long as its Retry-After...
    for (const t of throttled)
      expect(
        recorded.some((p) => p.seenAt >= t.at && p.until >= t.at + retryAfterSeconds * 1_000),
        JSON.stringify({ t, recorded }),
      ).toBe(true);
    // ...and nothing was written inside a pause once it was known.
    const early = recorded.flatMap((p) =>
      writes
        .filter((w) => w.at > p.seenAt + COMMITTED_ALLOWANCE_MS && w.at < p.until)
        .map((w) => `${w.method} ${w.status} ${p.until - w.at} ms before the pause recorded at ${p.seenAt} ended`),
    );
    expect(early).toEqual([]);
  }, 300_000);
});
