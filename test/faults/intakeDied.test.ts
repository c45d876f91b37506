import { odata } from "@azure/data-tables";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sweepIntake } from "../../src/intake/sweepIntake.js";
import { silentLogger } from "../../src/logging.js";
import { makeDevices } from "../support/devices.js";
import { DEVICE_QUEUE, FOLLOWER_QUEUE } from "../../src/storage/names.js";
import { startStorageChaos, type StorageChaos } from "./support/chaosProxy.js";
import { startChildHost, type ChildHost } from "./support/childHost.js";
import { post, startFaultWorld, waitFor, type FaultWorld } from "./support/faultWorld.js";
import { printLocalRows, recordScenario } from "./support/resultsTable.js";
import { faultScale } from "./support/scale.js";

/**
 * Scenario 7a: intake dies between writing a batch's rows and sending its messages.
 *
 * The intake process is SIGKILLed once its rows and header are durable and only some messages
 * were sent (the queue stops answering after them, so intake is caught mid-way). The partner got
 * no answer; the batch is durable, so it must still run: the sweeper (run here as its timer
 * would) sends the missing first attempts, and a fresh host imports every device exactly once.
 * (7b, a device whose message died, is messageDied.test.ts.)
 */
let world: FaultWorld;
let chaos: StorageChaos;
const hosts: ChildHost[] = [];
const HOST_SETTINGS = { functionTimeoutMs: 10_000, queues: { visibilityTimeoutMs: 500 } };

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

describe("fault 7: intake dies between the rows and the messages", () => {
  it("the sweeper sends what intake never sent, and every device is imported once", async () => {
    const startedAt = Date.now();
    const count = faultScale({ short: 40, full: 300 });
    const sentBeforeDeath = Math.floor(count / 4);
    const intake = await startChildHost(world.hostEnv({}, chaos.connectionString), HOST_SETTINGS);
    hosts.push(intake);
    let sends = 0;
    // Sends of device messages: a chunk's leader to the device queue, its followers to theirs.
    const deviceSend = (path: string) => path.includes(`/${DEVICE_QUEUE}/messages`) || path.includes(`/${FOLLOWER_QUEUE}/messages`);
    chaos.setRule((_, r) => (r.service === "queue" && r.method === "POST" && deviceSend(r.path) && ++sends > sentBeforeDeath ? "refuse" : "pass"));

    const answer = post(intake.api, JSON.stringify({ devices: makeDevices(count, "DIED") }), "application/json", world.partner.headers).then(
      (a) => a.status,
      () => "no answer" as const,
    );
    const header = await waitFor(
      "a durable batch whose messages stopped part-way",
      async () => {
        if (sends <= sentBeforeDeath) return undefined;
        const filter = odata`RowKey eq 'batch' and intakeState eq 'enqueueing'`;
        for await (const e of world.services.storage.imports.listEntities({ queryOptions: { filter } })) return e.partitionKey!;
        return undefined;
      },
      30_000,
    );
    await intake.kill();
    chaos.setRule(() => "pass");
    expect(await answer).toBe("no answer");
    expect((await world.services.store.readBatch(header))?.intakeState).toBe("enqueueing");

    const fresh = await startChildHost(world.hostEnv(), HOST_SETTINGS);
    hosts.push(fresh);
    const report = await sweepIntake({ ...world.services, enqueueConcurrency: 8, firstPollDelayMs: 1_000, log: silentLogger, graceMs: 0 });
    expect(report.finished).toBe(1);
    expect(report.reenqueued).toBeGreaterThan(0);

    const ledger = await world.settle([{ batchId: header, deviceCount: count }], 90_000);
    recordScenario("7a. intake killed between rows and messages", ledger, startedAt);
    expect(ledger.lostKeys, fresh.output()).toEqual([]);
    expect(ledger.duplicatedKeys).toEqual([]);
    expect((await world.deviceRows(header)).map((r) => r.state)).toEqual(Array(count).fill("imported"));
    await fresh.stop();
  }, 300_000);

});
