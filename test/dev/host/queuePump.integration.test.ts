import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { QueueClient } from "@azure/storage-queue";
import { startAzurite, type RunningAzurite } from "../../../src/dev/host/azurite.js";
import { QueuePump } from "../../../src/dev/host/queuePump.js";
import type { QueueHostSettings } from "../../../src/dev/host/hostSettings.js";
import { silentLogger } from "../../../src/telemetry/logging.js";
import { QueueServiceClient } from "@azure/storage-queue";

/** The development host's queue listener against real Azurite: host.json semantics, observed from the queues. */
let azurite: RunningAzurite;
let service: QueueServiceClient;

beforeAll(async () => {
  azurite = await startAzurite();
  service = QueueServiceClient.fromConnectionString(azurite.connectionString);
});
afterAll(async () => azurite?.stop());

const settings: QueueHostSettings = {
  batchSize: 4,
  newBatchThreshold: 2,
  maxPollingIntervalMs: 100,
  visibilityTimeoutMs: 0,
  maxDequeueCount: 3,
  messageEncoding: "base64",
};

async function queues(name: string): Promise<{ queue: QueueClient; poison: QueueClient }> {
  const queue = service.getQueueClient(name);
  const poison = service.getQueueClient(`${name}-poison`);
  await queue.create();
  await poison.create();
  return { queue, poison };
}

/** Resolves when `count` deliveries have been seen; the pump's own progress, not a timer, ends the wait. */
function deliveries(count: number) {
  const seen: { payload: unknown; id: string; dequeueCount: number }[] = [];
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  return {
    seen,
    finished,
    record(payload: unknown, delivery: { id: string; dequeueCount: number }) {
      seen.push({ payload, ...delivery });
      if (seen.length === count) done();
    },
  };
}

describe("QueuePump", () => {
  it("hands the function the decoded JSON and deletes the message when it succeeds", async () => {
    const { queue, poison } = await queues("pump-ok");
    const watch = deliveries(3);
    const pump = new QueuePump({
      queue,
      poisonQueue: poison,
      settings,
      processingTimeoutMs: 30_000,
      log: silentLogger,
      handle: async (p, d) => watch.record(p, d),
    });
    for (const n of [1, 2, 3]) await queue.sendMessage(Buffer.from(JSON.stringify({ n })).toString("base64"));
    pump.start();
    await watch.finished;
    await pump.stop();
    expect(watch.seen.map((s) => s.payload).sort((a, b) => (a as { n: number }).n - (b as { n: number }).n)).toEqual([
      { n: 1 },
      { n: 2 },
      { n: 3 },
    ]);
    expect(watch.seen.every((s) => s.dequeueCount === 1)).toBe(true);
    expect((await queue.getProperties()).approximateMessagesCount).toBe(0);
    expect((await poison.getProperties()).approximateMessagesCount).toBe(0);
  });

  it("redelivers a failing message, then moves it to <queue>-poison after maxDequeueCount deliveries", async () => {
    const { queue, poison } = await queues("pump-fail");
    const watch = deliveries(settings.maxDequeueCount);
    const pump = new QueuePump({
      queue,
      poisonQueue: poison,
      settings,
      processingTimeoutMs: 30_000,
      log: silentLogger,
      handle: async (p, d) => {
        watch.record(p, d);
        throw new Error("always fails");
      },
    });
    const text = Buffer.from(JSON.stringify({ doomed: true })).toString("base64");
    await queue.sendMessage(text);
    pump.start();
    await watch.finished;
    // The poison move follows the last failed delivery; wait for the pump's own in-flight work.
    await pump.stop();
    expect(watch.seen.map((s) => s.dequeueCount)).toEqual([1, 2, 3]);
    expect(new Set(watch.seen.map((s) => s.id)).size).toBe(1);
    expect((await queue.getProperties()).approximateMessagesCount).toBe(0);
    const poisoned = await poison.receiveMessages({ numberOfMessages: 5 });
    expect(poisoned.receivedMessageItems.map((m) => m.messageText)).toEqual([text]);
  });

  it("keeps a running message invisible past its processing visibility, as the Functions host renews it, and deletes it once", async () => {
    const { queue, poison } = await queues("pump-long");
    const watch = deliveries(1);
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const pump = new QueuePump({
      queue,
      poisonQueue: poison,
      settings,
      processingTimeoutMs: 2_000,
      log: silentLogger,
      handle: async (p, d) => {
        watch.record(p, d);
        await finished;
      },
    });
    await queue.sendMessage(Buffer.from(JSON.stringify({ long: true })).toString("base64"));
    pump.start();
    await watch.finished;
    // Another consumer looks for it for three processing visibilities: without renewal it would get it after the first.
    const stolen: string[] = [];
    for (const until = Date.now() + 6_000; Date.now() < until;) {
      const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 1, visibilityTimeout: 1 });
      stolen.push(...receivedMessageItems.map((m) => m.messageId));
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    finish();
    await pump.stop();
    expect(stolen).toEqual([]);
    expect(watch.seen).toHaveLength(1);
    expect((await queue.getProperties()).approximateMessagesCount).toBe(0);
  });

  it("never runs more than batchSize + newBatchThreshold functions at once", async () => {
    const { queue, poison } = await queues("pump-limit");
    let running = 0;
    let peak = 0;
    const total = 30;
    const watch = deliveries(total);
    const pump = new QueuePump({
      queue,
      poisonQueue: poison,
      settings,
      processingTimeoutMs: 30_000,
      log: silentLogger,
      handle: async (p, d) => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((resolve) => setImmediate(resolve));
        running--;
        watch.record(p, d);
      },
    });
    await Promise.all(Array.from({ length: total }, (_, n) => queue.sendMessage(Buffer.from(JSON.stringify({ n })).toString("base64"))));
    pump.start();
    await watch.finished;
    await pump.stop();
    expect(peak).toBeLessThanOrEqual(settings.batchSize + settings.newBatchThreshold);
    expect(watch.seen).toHaveLength(total);
  });
});
