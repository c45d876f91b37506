import { odata } from "@azure/data-tables";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sweepIntake } from "../../src/intake/sweepIntake.js";
import { silentLogger } from "../../src/telemetry/logging.js";
import { makeDevices } from "../support/devices.js";
import { DEVICE_QUEUE, FANOUT_QUEUE } from "../../src/storage/names.js";
import { startStorageChaos, type StorageChaos } from "./support/chaosProxy.js";
import { startChildHost, type ChildHost } from "./support/childHost.js";
import { post, startFaultWorld, waitFor, type FaultWorld } from "./support/faultWorld.js";
import { printLocalRows, recordScenario } from "./support/resultsTable.js";
import { faultScale } from "./support/scale.js";

/**
 * Scenario 7a: intake dies between writing a batch's rows and starting its fan-out.
 *
 * The intake process is SIGKILLed once its rows and header are durable and its messages (the poll
 * round, the fan-out messages) could not be sent: the queue stops answering after the rows, so
 * intake is caught mid-way. The partner may or may not have had its 202 (the batch is durable
 * either way), so it must run: the sweeper (run here as its timer would) sends the fan-out
 * messages of the ranges that never moved, and a fresh host fans them out and imports every
 * device exactly once. (7b, a device whose message died, is messageDied.test.ts; a fan-out that
 * dies part-way is fanOutDied.test.ts.)
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
    const intake = await startChildHost(world.hostEnv({}, chaos.connectionString), HOST_SETTINGS);
    hosts.push(intake);
    let refused = 0;
    // Every message intake sends: the poll round to the device queue, the fan-out messages to theirs.
    const intakeSend = (path: string) => path.includes(`/${DEVICE_QUEUE}/messages`) || path.includes(`/${FANOUT_QUEUE}/messages`);
    chaos.setRule((_, r) => (r.service === "queue" && r.method === "POST" && intakeSend(r.path) && ++refused > 0 ? "refuse" : "pass"));

    const answer = post(
      intake.api,
      JSON.stringify({ devices: makeDevices(count, "DIED") }),
      "application/json",
      world.partner.headers,
    ).then(
      (a) => a.status,
      () => "no answer" as const,
    );
    const header = await waitFor(
      "a durable batch whose messages could not be sent",
      async () => {
        if (refused === 0) return undefined;
        const filter = odata`RowKey eq 'batch' and intakeState eq 'enqueueing'`;
        for await (const e of world.services.storage.imports.listEntities({ queryOptions: { filter } })) return e.partitionKey!;
        return undefined;
      },
      30_000,
    );
    await intake.kill();
    chaos.setRule(() => "pass");
    // Killed while the storage client retried the refused send, or after intake gave up and answered 202: the batch is durable either way.
    expect(["no answer", 202]).toContain(await answer);
    expect((await world.services.store.readBatch(header))?.intakeState).toBe("enqueueing");

    const fresh = await startChildHost(world.hostEnv(), HOST_SETTINGS);
    hosts.push(fresh);
    const report = await sweepIntake({ ...world.services, enqueueConcurrency: 8, firstPollDelayMs: 1_000, log: silentLogger, graceMs: 0 });
    // The batch's one range is sent again; the journal keeps the batch until its fan-out is done.
    expect(report).toEqual({ finished: 0, reenqueued: count, abandoned: 0 });

    const ledger = await world.settle([{ batchId: header, deviceCount: count }], 90_000);
    recordScenario("7a. intake killed between rows and messages", ledger, startedAt);
    expect(ledger.lostKeys, fresh.output()).toEqual([]);
    expect(ledger.duplicatedKeys).toEqual([]);
    expect((await world.deviceRows(header)).map((r) => r.state)).toEqual(Array(count).fill("imported"));
    expect((await world.services.store.readBatch(header))?.intakeState).toBe("accepted");
    expect((await world.services.journal.startedBefore(new Date(Date.now() + 60_000).toISOString())).map((p) => p.batchId)).not.toContain(
      header,
    );
    await fresh.stop();
  }, 300_000);
});
