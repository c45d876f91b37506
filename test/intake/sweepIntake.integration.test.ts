import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServices, type Services } from "../../src/app/services.js";
import { loadConfig } from "../../src/config/config.js";
import { startAzurite, type RunningAzurite } from "../../src/dev/host/azurite.js";
import { submitBatch } from "../../src/intake/submitBatch.js";
import { ABANDONED_INTAKE_ERASE_AFTER_MS, sweepIntake } from "../../src/intake/sweepIntake.js";
import { ImportStore } from "../../src/storage/importStore.js";
import { silentLogger } from "../../src/telemetry/logging.js";
import { decodeDeviceMessage, type DeviceMessage } from "../../src/storage/deviceMessage.js";
import type { DeviceMessageSender } from "../../src/storage/deviceQueue.js";
import { makeDevices } from "../support/devices.js";
import { withInlineFanOut } from "../support/inlineFanOut.js";
import { fanOutBatch } from "../../src/intake/fanOutBatch.js";
import { decodeFanOutMessage, type FanOutMessage } from "../../src/intake/fanOutMessage.js";
import { FANOUT_QUEUE } from "../../src/storage/names.js";
import { deviceRowKey } from "../../src/storage/importEntities.js";
import { devicesOfPage, PAGE_ROW_PREFIX, type DevicePageEntity } from "../../src/storage/devicePages.js";

/** Intake that dies part-way, on real Azurite: the sweeper must finish what became durable and forget the rest. */
let azurite: RunningAzurite;
let services: Services;

beforeAll(async () => {
  azurite = await startAzurite();
  // Pacing so generous that every message is visible at once, for the test to read them all.
  services = await createServices(
    loadConfig({ AzureWebJobsStorage: azurite.connectionString, PACING_WRITES_PER_WINDOW: "10000000" }),
    silentLogger,
  );
});
afterAll(async () => azurite?.stop());

/** A queue that accepts `budget` messages, then fails as if storage went away. */
function failingAfter(budget: number): DeviceMessageSender & { sent: DeviceMessage[] } {
  const sent: DeviceMessage[] = [];
  return {
    sent,
    async send(message) {
      if (sent.length >= budget) throw new Error("queue unreachable");
      sent.push(message);
    },
  };
}

async function drainQueue(): Promise<DeviceMessage[]> {
  const found: DeviceMessage[] = [];
  for (;;) {
    const { receivedMessageItems } = await services.storage.deviceQueue.receiveMessages({ numberOfMessages: 32 });
    if (receivedMessageItems.length === 0) return found;
    for (const item of receivedMessageItems) {
      found.push(decodeDeviceMessage(item.messageText));
      await services.storage.deviceQueue.deleteMessage(item.messageId, item.popReceipt);
    }
  }
}

async function drainFanOut(): Promise<FanOutMessage[]> {
  const found: FanOutMessage[] = [];
  const queue = services.storage.queueNamed(FANOUT_QUEUE);
  for (;;) {
    const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 32 });
    if (receivedMessageItems.length === 0) return found;
    for (const item of receivedMessageItems) {
      found.push(decodeFanOutMessage(item.messageText));
      await queue.deleteMessage(item.messageId, item.popReceipt);
    }
  }
}

const later = () => new Date(Date.now() + 10 * 60_000);

describe("sweepIntake", () => {
  it("resumes the fan-out of an interrupted intake: every device's first attempt is sent, each once beyond one window", async () => {
    const devices = makeDevices(20, "SWEEP");
    // The poll round and six device messages go out, then the queue fails: the fan-out stops inside its first window.
    const queue = failingAfter(7);
    const accepted = await submitBatch(
      withInlineFanOut(
        {
          store: services.store,
          journal: services.journal,
          pacing: services.pacing,
          queue,
          enqueueConcurrency: 1,
          firstPollDelayMs: 0,
          log: silentLogger,
        },
        services.fanOutProgress,
      ),
      { partnerId: "sweep-test", tenantId: "contoso.onmicrosoft.com", devices },
      "json",
    );
    expect(accepted.fullyEnqueued).toBe(false);
    expect(queue.sent).toHaveLength(7);
    expect((await services.store.readBatch(accepted.batchId))?.intakeState).toBe("enqueueing");
    expect(await services.fanOutProgress.list(accepted.batchId)).toMatchObject([{ range: 0, from: 0, to: 20, next: 0, done: false }]);

    // A sweep inside the grace period leaves a possibly still running intake alone.
    expect(await sweepIntake({ ...services, enqueueConcurrency: 4, firstPollDelayMs: 0, graceMs: 60_000 })).toEqual({
      finished: 0,
      reenqueued: 0,
      abandoned: 0,
    });

    // Later, the stalled range is sent again (and the poll chain started again); the journal entry stays until the fan-out is done.
    const report = await sweepIntake({ ...services, enqueueConcurrency: 4, firstPollDelayMs: 0, graceMs: 60_000, now: later });
    expect(report).toEqual({ finished: 0, reenqueued: 20, abandoned: 0 });
    // A second sweep right after finds the range taken over, not stalled: nothing sent twice.
    expect(await sweepIntake({ ...services, enqueueConcurrency: 4, firstPollDelayMs: 0, graceMs: 60_000, now: later })).toEqual({
      finished: 0,
      reenqueued: 0,
      abandoned: 0,
    });
    const fanOuts = await drainFanOut();
    expect(fanOuts).toHaveLength(1);
    expect(fanOuts[0]).toMatchObject({ batchId: accepted.batchId, range: 0, from: 0, to: 20 });
    expect(fanOuts[0]!.schedule).toBeUndefined();
    const fanOut = {
      store: services.store,
      progress: services.fanOutProgress,
      journal: services.journal,
      queue: services.queue,
      pacing: services.pacing,
      enqueueConcurrency: 4,
      followerDelayMs: 0,
      log: silentLogger,
    };
    expect(await fanOutBatch(fanOut, fanOuts[0]!)).toBe("sent");
    // The same message again (a redelivery) sends nothing.
    expect(await fanOutBatch(fanOut, fanOuts[0]!)).toBe("already-done");

    const messages = await drainQueue();
    const submits = messages.filter((m) => m.kind === "submit");
    expect(submits.map((m) => m.rowKey).sort()).toEqual(devices.map((_, i) => deviceRowKey(i)));
    const sentOrResent = new Set([...queue.sent.filter((m) => m.kind === "submit"), ...submits].map((m) => m.rowKey));
    expect(sentOrResent.size).toBe(20);
    expect(submits.every((m) => m.attempt === 1 && m.batchId === accepted.batchId)).toBe(true);
    // and the batch's poll rounds are started again (the round guard drops one of the two chains)
    expect(messages.filter((m) => m.kind === "pollBatch")).toEqual([
      { v: 1, kind: "pollBatch", batchId: accepted.batchId, rowKey: "batch", attempt: 1 },
    ]);
    expect((await services.store.readBatch(accepted.batchId))?.intakeState).toBe("accepted");
    expect((await services.journal.startedBefore(later().toISOString())).map((p) => p.batchId)).not.toContain(accepted.batchId);
  });

  it("marks accepted a batch whose fan-out was complete but whose last range died before marking it", async () => {
    const queue = failingAfter(1_000);
    const accepted = await submitBatch(
      withInlineFanOut(
        {
          store: services.store,
          journal: services.journal,
          pacing: services.pacing,
          queue,
          enqueueConcurrency: 4,
          firstPollDelayMs: 0,
          log: silentLogger,
        },
        services.fanOutProgress,
      ),
      { partnerId: "sweep-test", tenantId: "contoso.onmicrosoft.com", devices: makeDevices(5, "SWEEPDONE") },
      "json",
    );
    expect(queue.sent.filter((m) => m.kind === "submit")).toHaveLength(5);
    // As if the last range died between recording its progress and marking the batch.
    await services.storage.imports.updateEntity(
      { partitionKey: accepted.batchId, rowKey: "batch", intakeState: "enqueueing", acceptedAt: "" },
      "Merge",
    );
    await services.journal.begin(accepted.batchId, new Date().toISOString(), "sweep-test");
    const report = await sweepIntake({ ...services, enqueueConcurrency: 4, firstPollDelayMs: 0, graceMs: 60_000, now: later });
    expect(report).toEqual({ finished: 1, reenqueued: 0, abandoned: 0 });
    expect((await services.store.readBatch(accepted.batchId))?.intakeState).toBe("accepted");
    expect((await drainQueue()).filter((m) => m.batchId === accepted.batchId)).toEqual([]);
  });

  it("forgets an intake that died before its batch became durable, and sends nothing for it", async () => {
    await services.journal.begin("11111111-1111-4111-8111-111111111111", new Date().toISOString());
    const report = await sweepIntake({ ...services, enqueueConcurrency: 4, firstPollDelayMs: 0, graceMs: 60_000, now: later });
    expect(report).toEqual({ finished: 1, reenqueued: 0, abandoned: 1 });
    expect(await drainQueue()).toEqual([]);
  });

  it("erases what an intake that died before its header wrote (device pages with their hashes, its list row), once it cannot be running", async () => {
    // The header write fails, as if the process died just before it: rows, counters and the list row are written.
    const imports = services.storage.imports;
    const dying = new Proxy(imports, {
      get: (target, name, receiver) =>
        name === "upsertEntity"
          ? async () => {
              throw new Error("host died");
            }
          : Reflect.get(target, name, receiver),
    });
    const store = new ImportStore(dying, services.batchIndex);
    const devices = makeDevices(150, "ABANDON");
    const intake = withInlineFanOut(
      {
        store,
        journal: services.journal,
        pacing: services.pacing,
        queue: failingAfter(0),
        enqueueConcurrency: 4,
        firstPollDelayMs: 0,
        log: silentLogger,
      },
      services.fanOutProgress,
    );
    const startedAt = Date.now();
    await expect(
      submitBatch(
        { ...intake, now: () => new Date(startedAt) },
        { partnerId: "sweep-abandon", tenantId: "contoso.onmicrosoft.com", devices },
        "json",
      ),
    ).rejects.toThrow("host died");
    const [pending] = (await services.journal.startedBefore(new Date(startedAt + 1).toISOString())).filter(
      (p) => p.partnerId === "sweep-abandon",
    );
    const batchId = pending!.batchId;
    const rowsOf = async (table: typeof imports, filter: string) => {
      const found: Record<string, unknown>[] = [];
      for await (const row of table.listEntities({ queryOptions: { filter } })) found.push(row);
      return found;
    };
    const deviceRows = () => rowsOf(imports, `PartitionKey eq '${batchId}'`);
    const listRows = () => rowsOf(services.storage.batchIndex, `PartitionKey eq 'sweep-abandon'`);
    // The devices, hashes and all, are in the partition's pages (devicePages.ts).
    const hashesStored = (await deviceRows())
      .filter((r) => String(r.rowKey).startsWith(PAGE_ROW_PREFIX))
      .flatMap((page) => devicesOfPage(page as unknown as DevicePageEntity))
      .filter((d) => d.hardwareIdentifier);
    expect(hashesStored).toHaveLength(150);
    expect(await listRows()).toHaveLength(1);

    // Five minutes on, the intake might in principle still be writing: left alone, and looked at again later.
    const sweep = (at: number) =>
      sweepIntake({ ...services, enqueueConcurrency: 4, firstPollDelayMs: 0, graceMs: 60_000, now: () => new Date(at) });
    expect(await sweep(startedAt + 5 * 60_000)).toEqual({ finished: 0, reenqueued: 0, abandoned: 0 });
    // 2 pages of 99 and 51 devices, 16 counter shards, one fan-out progress row
    expect(await deviceRows()).toHaveLength(2 + 16 + 1);

    expect(await sweep(startedAt + ABANDONED_INTAKE_ERASE_AFTER_MS)).toEqual({ finished: 1, reenqueued: 0, abandoned: 1 });
    expect(await deviceRows()).toEqual([]);
    expect(await listRows()).toEqual([]);
    expect((await services.journal.startedBefore(later().toISOString())).map((p) => p.batchId)).not.toContain(batchId);
    expect(await drainQueue()).toEqual([]);
  });
});
