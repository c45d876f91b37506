import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeDevices } from "../support/devices.js";
import { acceptedBatch, post, sleep, startFaultWorld, type Answer, type FaultWorld } from "./support/faultWorld.js";
import type { AcceptedBatch } from "./support/ledger.js";
import { printLocalRows, recordScenario } from "./support/resultsTable.js";
import { faultScale } from "./support/scale.js";

/**
 * Scenario 5: the same batch submitted twice, one after the other and at the same time.
 *
 * What "not duplicated" means here. Without an idempotency key, two submissions are two
 * batches (two 202s, two ids), and each must complete with each of its devices created in Graph
 * at most once for that batch (one create per importId). Graph itself de-duplicates by hardware
 * hash: a device already registered in the tenant fails 806, and two imports of one hash pending
 * together fail as duplicates. So across the two batches a device is created at most twice and
 * imported (registered) at most once: Intune never holds it twice.
 *
 * With an Idempotency-Key, both submissions are one batch: the repeat answers the first's 202,
 * and a concurrent twin gets 409 until the first is recorded, then the same 202. Graph sees one
 * create per device.
 */
let world: FaultWorld;
beforeAll(async () => {
  world = await startFaultWorld();
});
afterAll(async () => {
  await world?.stop();
  printLocalRows();
});

describe("fault 5: the same batch submitted twice", () => {
  it("runs two batches to the end, each device created once per batch and imported once", async () => {
    const startedAt = Date.now();
    const count = faultScale({ short: 10, full: 40 });
    const host = await world.startHost();
    const send = (body: string) => post(host.api, body, "application/json", world.partner.headers);

    const sequential = JSON.stringify({ devices: makeDevices(count, "TWICE") });
    const first = acceptedBatch(await send(sequential), count);
    await world.settle([first], 60_000);
    const second = acceptedBatch(await send(sequential), count);

    const concurrent = JSON.stringify({ devices: makeDevices(count, "TOGETHER") });
    const together = (await Promise.all([send(concurrent), send(concurrent)])).map((a) => acceptedBatch(a, count));

    const batches: AcceptedBatch[] = [first, second, ...together];
    expect(new Set(batches.map((b) => b.batchId)).size).toBe(4);
    const ledger = await world.settle(batches, 60_000);
    recordScenario("5. same batch twice (no key)", ledger, startedAt);

    expect(ledger.lostKeys).toEqual([]);
    expect(ledger.duplicatedKeys).toEqual([]);
    // Graph's own de-duplication: the repeat of a registered device fails 806.
    expect((await world.deviceRows(first.batchId)).map((r) => r.state)).toEqual(Array(count).fill("imported"));
    expect((await world.deviceRows(second.batchId)).map((r) => r.errorCode)).toEqual(Array(count).fill("806"));
    // Concurrent twins: per device, imported at most once across the two batches.
    const [a, b] = await Promise.all(together.map((t) => world.deviceRows(t.batchId)));
    for (let i = 0; i < count; i++) expect([a![i]!.state, b![i]!.state].filter((s) => s === "imported").length).toBeLessThanOrEqual(1);
  }, 300_000);

  it("with an Idempotency-Key: one batch, however and whenever it is sent again", async () => {
    const startedAt = Date.now();
    const count = faultScale({ short: 10, full: 40 });
    const host = await world.startHost();
    const creates = world.simulator.creates.length;
    const send = (body: string, key: string) =>
      post(host.api, body, "application/json", { ...world.partner.headers, "idempotency-key": key });
    // A partner retries a 409 (the first request still in progress) after its Retry-After.
    const sendUntilAnswered = async (body: string, key: string): Promise<Answer> => {
      for (let tries = 0; ; tries++) {
        const answer = await send(body, key);
        if (answer.status !== 409 || tries > 20) return answer;
        await sleep(Number(answer.headers.get("retry-after") ?? "1") * 1_000);
      }
    };

    const sequential = JSON.stringify({ devices: makeDevices(count, "KEYED") });
    const first = acceptedBatch(await send(sequential, "fault-5-sequential"), count);
    const repeat = acceptedBatch(await send(sequential, "fault-5-sequential"), count);
    expect(repeat.batchId).toBe(first.batchId);

    const concurrent = JSON.stringify({ devices: makeDevices(count, "KEYEDTOGETHER") });
    const twins = (
      await Promise.all([sendUntilAnswered(concurrent, "fault-5-concurrent"), sendUntilAnswered(concurrent, "fault-5-concurrent")])
    ).map((a) => acceptedBatch(a, count));
    expect(twins[1]!.batchId).toBe(twins[0]!.batchId);

    const ledger = await world.settle([first, twins[0]!], 60_000);
    recordScenario("5. same batch twice (Idempotency-Key)", ledger, startedAt);
    expect(ledger.lostKeys).toEqual([]);
    expect(ledger.duplicatedKeys).toEqual([]);
    expect(world.simulator.creates.length - creates).toBe(2 * count);
    for (const batch of [first, twins[0]!])
      expect((await world.deviceRows(batch.batchId)).map((r) => r.state)).toEqual(Array(count).fill("imported"));
  }, 300_000);
});
