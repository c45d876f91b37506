import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { functionDefinitions } from "../../src/app/functionDefinitions.js";
import { sweepIntake } from "../../src/intake/sweepIntake.js";
import { silentLogger } from "../../src/telemetry/logging.js";
import { makeDevices } from "../support/devices.js";
import { startStorageChaos, type StorageChaos } from "./support/chaosProxy.js";
import { acceptedBatch, post, sleep, startFaultWorld, waitFor, type FaultWorld } from "./support/faultWorld.js";
import type { AcceptedBatch } from "./support/ledger.js";
import { printLocalRows, recordScenario } from "./support/resultsTable.js";
import { faultScale } from "./support/scale.js";

/**
 * Scenario 2: storage unreachable for a while, through proxies between the app and Azurite that
 * refuse every request from a chosen one on (and cut the connections the app holds open). The
 * app runs as two instances, one for the HTTP functions and one for the queue functions and
 * timers, each behind a proxy of its own, so a cut during intake is counted in intake's own
 * requests and the workers keep draining the queues meanwhile, as they would.
 *
 * During intake: the n-th storage request of a POST fails for a spread of n, from the
 * credential check through the row transactions and the header to the queue sends. The answer
 * is 503 with Retry-After (nothing was accepted: resending is the partner's move) or, once the
 * header is durable, 202 (the sweeper finishes what intake could not send). Never a 202 for work
 * that is not durable, never work for a 503.
 *
 * During processing: storage goes away while the workers are mid-batch, then comes back; every
 * device still ends imported, each created once.
 */
let world: FaultWorld;
/** In front of the intake host's storage: 2a cuts it at the n-th request of a POST, counting intake's requests only. */
let intakeChaos: StorageChaos;
/** In front of the workers' storage (queue functions and timers, in a host of their own): 2b takes both away. */
let workerChaos: StorageChaos;
let api: string;
// Visibility shortened from host.json's 5 minutes: a message whose release failed during the outage comes back in seconds.
const HOST_SETTINGS = { functionTimeoutMs: 10_000, queues: { visibilityTimeoutMs: 1_000 } };
const PROBLEM = "application/problem+json";

beforeAll(async () => {
  world = await startFaultWorld();
  intakeChaos = await startStorageChaos(world.azurite);
  workerChaos = await startStorageChaos(world.azurite);
  // Chunks of 2: the batch is 30 import actions a slot apart, so an outage can fall mid-batch.
  const env = (storage: string) =>
    world.hostEnv({ PACING_WINDOW_MS: "2000", PACING_WRITES_PER_WINDOW: "100", IMPORT_CHUNK_SIZE: "2" }, storage);
  // Two hosts, as two instances of one app: the HTTP functions, and the queue functions with their timers (the follower drain among them).
  ({ api } = await world.startHost(env(intakeChaos.connectionString), HOST_SETTINGS, {
    definitions: functionDefinitions.filter((d) => d.kind === "http"),
  }));
  await world.startHost(env(workerChaos.connectionString), HOST_SETTINGS, {
    definitions: functionDefinitions.filter((d) => d.kind !== "http"),
    timers: true,
  });
});
afterAll(async () => {
  intakeChaos?.setRule(() => "pass");
  workerChaos?.setRule(() => "pass");
  await world?.stop();
  await intakeChaos?.stop();
  await workerChaos?.stop();
  printLocalRows();
});

describe("fault 2: storage unreachable", () => {
  it("during intake: 503 with Retry-After and nothing runs, or 202 and everything runs", async () => {
    const startedAt = Date.now();
    const count = faultScale({ short: 120, full: 250 });
    const send = (prefix: string) =>
      post(api, JSON.stringify({ devices: makeDevices(count, prefix) }), "application/json", world.partner.headers);
    const accepted: AcceptedBatch[] = [];

    // How many storage requests one intake of this size makes, to cut it at every stage.
    const before = intakeChaos.count();
    accepted.push(acceptedBatch(await send("INTAKE-CLEAN"), count));
    const requestsPerIntake = intakeChaos.count() - before;

    // Cuts at a share of the intake's requests, and at the header write itself (rows written, no header).
    const cuts: (number | "header")[] = faultScale({ short: ["header"], full: [0, 0.1, 0.25, 0.4, 0.55, 0.7, 0.85, 0.95, "header"] });
    const answers: { cutAt: number | "header"; status: number }[] = [];
    for (const [i, cut] of cuts.entries()) {
      const cutAt = cut === "header" ? cut : Math.max(1, Math.round(cut * requestsPerIntake));
      const base = intakeChaos.count();
      let down = false;
      intakeChaos.setRule((n, r) => {
        down ||= cutAt === "header" ? r.service === "table" && r.method === "PUT" && r.path.includes("RowKey='batch'") : n - base >= cutAt;
        return down ? "refuse" : "pass";
      });
      const answer = await send(`INTAKE-CUT${i}`);
      intakeChaos.setRule(() => "pass");
      answers.push({ cutAt, status: answer.status });
      if (answer.status === 202) {
        accepted.push(acceptedBatch(answer, count));
        continue;
      }
      expect(answer.status, JSON.stringify(answer.body)).toBe(503);
      expect(answer.headers.get("content-type")).toContain(PROBLEM);
      expect(Number(answer.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(String(answer.body.type)).toMatch(/storage-unavailable$/);
      // As a partner would: wait as told, send the same batch again.
      await sleep(Number(answer.headers.get("retry-after")) * 1_000);
      accepted.push(acceptedBatch(await send(`INTAKE-CUT${i}`), count));
    }
    // A cut at the header answered 503, and in the full run later cuts 202 (the short run leaves
    // that side to scenario 7a; a cut at the very first request, the credential check, is also
    // test/app/runHttpFunction.test.ts's).
    expect(answers.find((a) => a.cutAt === "header")?.status, JSON.stringify({ requestsPerIntake, answers })).toBe(503);
    if (cuts.length > 1)
      expect(
        answers.map((a) => a.status),
        JSON.stringify({ requestsPerIntake, answers }),
      ).toContain(202);

    // The sweeper's timer, run now rather than a minute from now: it finishes what became durable.
    await sweepIntake({ ...world.services, enqueueConcurrency: 8, firstPollDelayMs: 1_000, log: silentLogger, graceMs: 0 });
    const ledger = await world.settle(accepted, 120_000);
    recordScenario("2a. storage unreachable during intake", ledger, startedAt);

    expect(ledger.lostKeys, ledger.lost > 0 ? await world.explainLost(ledger) : undefined).toEqual([]);
    expect(ledger.duplicatedKeys).toEqual([]);
    // Nothing ran for a refused submission: every create belongs to an accepted batch.
    expect(ledger.phantom).toBe(0);
    for (const batch of accepted) expect((await world.deviceRows(batch.batchId)).every((r) => r.state === "imported")).toBe(true);
  }, 300_000);

  it("during processing: the batch finishes once storage is back", async () => {
    const startedAt = Date.now();
    const count = faultScale({ short: 60, full: 200 });
    const outageMs = faultScale({ short: 5_000, full: 15_000 });
    const creates = world.simulator.creates.length;
    const batch = acceptedBatch(
      await post(api, JSON.stringify({ devices: makeDevices(count, "PROCESSING") }), "application/json", world.partner.headers),
      count,
    );

    await waitFor("a third of the batch to be created", () => world.simulator.creates.length - creates >= count / 3, 30_000, 5);
    for (const chaos of [intakeChaos, workerChaos]) chaos.setRule(() => "refuse", { cutOpen: true });
    const createdInOutage = world.simulator.creates.length;
    await sleep(outageMs);
    for (const chaos of [intakeChaos, workerChaos]) chaos.setRule(() => "pass");
    // The outage fell mid-batch: devices were still waiting for their create when it began.
    expect(createdInOutage - creates).toBeLessThan(count);

    const ledger = await world.settle([batch], 120_000);
    recordScenario("2b. storage unreachable during processing", ledger, startedAt);
    expect(ledger.lostKeys).toEqual([]);
    expect(ledger.duplicatedKeys).toEqual([]);
    expect((await world.deviceRows(batch.batchId)).map((r) => r.state)).toEqual(Array(count).fill("imported"));
  }, 300_000);

  it("in the middle of a poll round: the round is taken up again and the batch finishes", async () => {
    const startedAt = Date.now();
    const count = faultScale({ short: 40, full: 200 });
    const outageMs = faultScale({ short: 3_000, full: 10_000 });
    const batch = acceptedBatch(
      await post(api, JSON.stringify({ devices: makeDevices(count, "POLLROUND") }), "application/json", world.partner.headers),
      count,
    );
    // Once the fan-out is done, the workers' only write to the batch's header is a poll round's claim (pollBatch.ts):
    // storage goes away right after the first claim that follows, so the round has claimed and read nothing yet.
    await waitFor(
      "the batch's fan-out to finish",
      async () => (await world.services.store.readBatch(batch.batchId))?.intakeState === "accepted",
      60_000,
    );
    await waitFor(
      "a third of the batch to be created",
      () => world.simulator.creates.filter((c) => c.importId?.startsWith(batch.batchId)).length >= count / 3,
      60_000,
      5,
    );
    let cutUntil = 0;
    let claimSeen = false;
    workerChaos.setRule((_n, r) => {
      if (Date.now() < cutUntil) return "refuse";
      if (
        !claimSeen &&
        r.service === "table" &&
        r.method !== "GET" &&
        r.path.includes(batch.batchId) &&
        r.path.includes("RowKey='batch'")
      ) {
        claimSeen = true;
        cutUntil = Date.now() + outageMs;
      }
      return "pass";
    });
    await waitFor("a poll round's claim", () => claimSeen, 30_000);

    const ledger = await world.settle([batch], 120_000);
    workerChaos.setRule(() => "pass");
    recordScenario("2c. storage unreachable mid poll round", ledger, startedAt);
    expect(ledger.lostKeys).toEqual([]);
    expect(ledger.duplicatedKeys).toEqual([]);
    expect((await world.deviceRows(batch.batchId)).map((r) => r.state)).toEqual(Array(count).fill("imported"));
  }, 300_000);
});
