import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeDevices } from "../support/devices.js";
import { DEVICE_QUEUE, FANOUT_QUEUE, FOLLOWER_QUEUE } from "../../src/storage/names.js";
import { startStorageChaos, type StorageChaos } from "./support/chaosProxy.js";
import { startChildHost, type ChildHost } from "./support/childHost.js";
import { acceptedBatch, post, startFaultWorld, waitFor, type FaultWorld } from "./support/faultWorld.js";
import { printLocalRows, recordScenario } from "./support/resultsTable.js";
import { faultScale } from "./support/scale.js";

/**
 * Scenario 9 (issue 19): the fan-out, which sends a durable batch's device messages after its 202,
 * fails part-way.
 *
 * 9a: the host running a fan-out range is SIGKILLed once part of the range's device messages were
 * sent (the queue refuses the rest from then on, so the kill lands mid-range). A fresh host gets
 * the fan-out message again when its visibility runs out and resumes at the range's recorded
 * progress, on new slots; the devices of the window sent twice get a second message, which their
 * claims drop.
 * 9b: storage (queues and tables) stops answering in the middle of a fan-out, then comes back: the
 * fan-out's delivery fails, comes back and resumes.
 * Either way every device ends imported, created once, and the batch's intake is finished.
 */
let world: FaultWorld;
let chaos: StorageChaos;
const hosts: ChildHost[] = [];
// Processing visibility shortened from 5 minutes, so a killed or failed fan-out comes back in seconds.
const HOST_SETTINGS = { functionTimeoutMs: 6_000, queues: { visibilityTimeoutMs: 1_000 } };
// Chunks of 10, one fan-out range for the whole batch, progress recorded every 200 devices (fanOutBatch.ts).
const ENV = { IMPORT_CHUNK_SIZE: "10", FANOUT_RANGE_DEVICES: "5000" };
const deviceSend = (r: { service: string; method: string; path: string }) =>
  r.service === "queue" &&
  r.method === "POST" &&
  (r.path.includes(`/${DEVICE_QUEUE}/messages`) || r.path.includes(`/${FOLLOWER_QUEUE}/messages`));

beforeAll(async () => {
  world = await startFaultWorld();
  chaos = await startStorageChaos(world.azurite);
});
afterAll(async () => {
  chaos?.setRule(() => "pass");
  for (const host of hosts) await host.kill();
  await world?.stop();
  await chaos?.stop();
  printLocalRows();
});

async function finishedIntake(batchId: string): Promise<void> {
  await waitFor(
    "the batch's fan-out to finish its intake",
    async () => (await world.services.store.readBatch(batchId))?.intakeState === "accepted",
    60_000,
    100,
  );
  expect((await world.services.fanOutProgress.list(batchId)).every((r) => r.done && r.next === r.to)).toBe(true);
  expect((await world.services.journal.startedBefore(new Date(Date.now() + 60_000).toISOString())).map((p) => p.batchId)).not.toContain(
    batchId,
  );
}

describe("fault 9: the fan-out fails part-way", () => {
  it("a fan-out killed mid-range is resumed by a fresh host: every device imported once", async () => {
    const startedAt = Date.now();
    const count = faultScale({ short: 500, full: 2_000 });
    const sentBeforeDeath = faultScale({ short: 300, full: 1_100 });
    let sends = 0;
    chaos.setRule((_, r) => (deviceSend(r) && ++sends > sentBeforeDeath ? "refuse" : "pass"));
    const first = await startChildHost(world.hostEnv(ENV, chaos.connectionString), HOST_SETTINGS);
    hosts.push(first);
    const answer = await post(
      first.api,
      JSON.stringify({ devices: makeDevices(count, "FANKILL") }),
      "application/json",
      world.partner.headers,
    );
    const batch = acceptedBatch(answer, count);

    await waitFor("the fan-out to be part-way through its range", () => sends > sentBeforeDeath, 60_000);
    await first.kill();
    chaos.setRule(() => "pass");
    const progress = await world.services.fanOutProgress.list(batch.batchId);
    expect(progress).toHaveLength(1);
    expect(progress[0]!.done, first.output()).toBe(false);
    expect(progress[0]!.next).toBeGreaterThan(0);
    expect(progress[0]!.next).toBeLessThanOrEqual(sentBeforeDeath);

    const second = await startChildHost(world.hostEnv(ENV), HOST_SETTINGS);
    hosts.push(second);
    const ledger = await world.settle([batch], 120_000);
    recordScenario("9a. fan-out killed mid-range", ledger, startedAt);
    expect(ledger.lostKeys, second.output()).toEqual([]);
    expect(ledger.duplicatedKeys).toEqual([]);
    expect(ledger.final).toBe(count);
    expect((await world.deviceRows(batch.batchId)).every((r) => r.state === "imported")).toBe(true);
    await finishedIntake(batch.batchId);
    await second.stop();
  }, 300_000);

  it("storage failing in the middle of a fan-out: the fan-out comes back and finishes, every device imported once", async () => {
    const startedAt = Date.now();
    const count = faultScale({ short: 500, full: 2_000 });
    const failAfter = faultScale({ short: 250, full: 900 });
    let sends = 0;
    let down = false;
    // From the failAfter-th device message on, every storage request is refused until the fan-out has failed.
    chaos.setRule((_, r) => {
      if (deviceSend(r) && ++sends > failAfter) down = true;
      return down ? "refuse" : "pass";
    });
    const host = await startChildHost(world.hostEnv(ENV, chaos.connectionString), HOST_SETTINGS);
    hosts.push(host);
    const answer = await post(
      host.api,
      JSON.stringify({ devices: makeDevices(count, "FANSTORE") }),
      "application/json",
      world.partner.headers,
    );
    const batch = acceptedBatch(answer, count);

    // The fan-out's own delivery fails (its log line names the batch and no device row), once the storage client has given up retrying.
    const fanOutFailed = () =>
      host
        .output()
        .split("\n")
        .some((line) => line.includes("queue function failed") && line.includes(batch.batchId) && !line.includes('"rowKey"'));
    await waitFor("the fan-out to fail on unreachable storage", fanOutFailed, 150_000, 100);
    chaos.setRule(() => "pass", { cutOpen: true });

    const ledger = await world.settle([batch], 120_000);
    recordScenario("9b. storage fails mid fan-out", ledger, startedAt);
    expect(ledger.lostKeys, host.output()).toEqual([]);
    expect(ledger.duplicatedKeys).toEqual([]);
    expect(ledger.final).toBe(count);
    expect((await world.deviceRows(batch.batchId)).every((r) => r.state === "imported")).toBe(true);
    await finishedIntake(batch.batchId);
    // The fan-out queue is empty: the range was finished, not abandoned to the poison queue.
    expect((await world.services.storage.queueNamed(`${FANOUT_QUEUE}-poison`).getProperties()).approximateMessagesCount ?? 0).toBe(0);
    await host.stop();
  }, 300_000);
});
