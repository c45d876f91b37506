import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../src/logging.js";
import { drainPoisonQueue } from "../../src/worker/drainPoisonQueue.js";
import { useAzuriteStorage } from "../support/azuriteStorage.js";

const storage = useAzuriteStorage();

const base64Json = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64");

describe("draining a poison queue from a timer", () => {
  it("hands every message to its handler decoded, deletes the handled ones and keeps the ones whose handler failed", async () => {
    const queue = storage.clients().queueNamed(`poison-${randomUUID().slice(0, 8)}`);
    await queue.create();
    for (let i = 0; i < 40; i++) await queue.sendMessage(base64Json({ n: i }));
    const seen: number[] = [];
    const handled = await drainPoisonQueue(
      queue,
      async (payload) => {
        const n = (payload as { n: number }).n;
        seen.push(n);
        if (n === 7) throw new Error("storage down");
      },
      silentLogger,
    );
    expect(handled).toBe(40);
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    // The one that failed is still there (invisible while it was being handled), for the next run.
    expect((await queue.getProperties()).approximateMessagesCount).toBe(1);
  });

  it("costs one receive when the queue is empty", async () => {
    const queue = storage.clients().queueNamed(`poison-${randomUUID().slice(0, 8)}`);
    await queue.create();
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
    expect(await drainPoisonQueue(counted, async () => undefined, silentLogger)).toBe(0);
    expect(calls).toBe(1);
  });
});
