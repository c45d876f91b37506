import { randomUUID } from "node:crypto";
import type { QueueClient } from "@azure/storage-queue";
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../src/telemetry/logging.js";
import { drainQueue, type DrainOptions } from "../../src/storage/drainQueue.js";
import { useAzuriteStorage } from "../support/azuriteStorage.js";

const storage = useAzuriteStorage();

const base64Json = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64");
const keepUntilHandled: DrainOptions = { maxPerRun: 640, visibilitySeconds: 300, reportAfterDequeues: 5 };

async function freshQueue(prefix: string): Promise<QueueClient> {
  const queue = storage.clients().queueNamed(`${prefix}-${randomUUID().slice(0, 8)}`);
  await queue.create();
  return queue;
}

const depth = async (queue: QueueClient) => (await queue.getProperties()).approximateMessagesCount;

describe("draining a queue from a timer", () => {
  it("hands every message to its handler decoded, deletes the handled ones and keeps the ones whose handler failed", async () => {
    const queue = await freshQueue("poison");
    for (let i = 0; i < 40; i++) await queue.sendMessage(base64Json({ n: i }));
    const seen: number[] = [];
    const handled = await drainQueue(
      queue,
      async (payload) => {
        const n = (payload as { n: number }).n;
        seen.push(n);
        if (n === 7) throw new Error("storage down");
      },
      silentLogger,
      keepUntilHandled,
    );
    expect(handled).toBe(40);
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    // The one that failed is still there (invisible while it was being handled), for the next run.
    expect(await depth(queue)).toBe(1);
  });

  it("gives each handler the message's id and how often it was received", async () => {
    const queue = await freshQueue("ids");
    const sent = await queue.sendMessage(base64Json({ n: 1 }));
    const seen: { id: string; dequeueCount: number }[] = [];
    await drainQueue(queue, async (_payload, message) => void seen.push(message), silentLogger, keepUntilHandled);
    expect(seen).toEqual([{ id: sent.messageId, dequeueCount: 1 }]);
  });

  it("keeps a message its handler keeps for later: its text replaced in place, invisible until then, not deleted", async () => {
    const queue = await freshQueue("later");
    await queue.sendMessage(base64Json({ n: 1 }));
    await drainQueue(
      queue,
      async () => ({ keepForLater: { text: base64Json({ n: 2 }), delayMs: 60_000 } }),
      silentLogger,
      keepUntilHandled,
    );
    expect(await depth(queue)).toBe(1);
    // Still there, but not visible to the next run.
    expect((await queue.peekMessages()).peekedMessageItems).toEqual([]);
    const seen: unknown[] = [];
    await drainQueue(queue, async (payload) => void seen.push(payload), silentLogger, keepUntilHandled);
    expect(seen).toEqual([]);
  });

  it("makes a kept message visible again with its new text when its delay is over", async () => {
    const queue = await freshQueue("again");
    await queue.sendMessage(base64Json({ n: 1 }));
    // Due again at once, inside the same run: that run leaves it to the next instead of taking it again.
    let calls = 0;
    const keptAtOnce = async () => {
      calls++;
      return { keepForLater: { text: base64Json({ n: 2 }), delayMs: 0 } };
    };
    expect(await drainQueue(queue, keptAtOnce, silentLogger, keepUntilHandled)).toBe(1);
    expect(calls).toBe(1);
    const seen: { payload: unknown; dequeueCount: number }[] = [];
    await drainQueue(
      queue,
      async (payload, message) => void seen.push({ payload, dequeueCount: message.dequeueCount }),
      silentLogger,
      keepUntilHandled,
    );
    expect(seen.map((m) => m.payload)).toEqual([{ n: 2 }]);
    expect(await depth(queue)).toBe(0);
  });

  it("moves a message whose handler keeps failing to the poison queue after maxDequeueCount receives", async () => {
    const queue = await freshQueue("hooks");
    const poison = await freshQueue("hooks-poison");
    await queue.sendMessage(base64Json({ n: 1 }));
    const options: DrainOptions = {
      maxPerRun: 1,
      visibilitySeconds: 1,
      reportAfterDequeues: 2,
      poison: { queue: poison, maxDequeueCount: 2 },
    };
    let calls = 0;
    const failing = async () => {
      calls++;
      throw new Error("receiver down");
    };
    await drainQueue(queue, failing, silentLogger, options);
    expect(await depth(queue)).toBe(1);
    // The next run sees it once its handling visibility has run out.
    while ((await queue.peekMessages()).peekedMessageItems.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
    await drainQueue(queue, failing, silentLogger, options);
    expect(calls).toBe(2);
    expect(await depth(queue)).toBe(0);
    const moved = (await poison.receiveMessages()).receivedMessageItems;
    expect(moved.map((m) => JSON.parse(Buffer.from(m.messageText, "base64").toString()))).toEqual([{ n: 1 }]);
  });

  it("costs one receive when the queue is empty", async () => {
    const queue = await freshQueue("poison");
    let calls = 0;
    const counted = new Proxy(queue, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver) as unknown;
        if (property === "receiveMessages" && typeof value === "function") {
          return (...args: unknown[]) => {
            calls++;
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        return value;
      },
    });
    expect(await drainQueue(counted, async () => undefined, silentLogger, keepUntilHandled)).toBe(0);
    expect(calls).toBe(1);
  });
});
