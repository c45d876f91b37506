import { describe, expect, it } from "vitest";
import { SendLimiter } from "../../src/storage/sendLimiter.js";
import type { DeviceMessage } from "../../src/storage/deviceMessage.js";

const message = (i: number): DeviceMessage => ({
  v: 1,
  kind: "submit",
  batchId: "b",
  rowKey: `device-${String(i).padStart(6, "0")}`,
  attempt: 1,
});

describe("SendLimiter", () => {
  it("keeps at most `limit` sends in flight across every sender that shares it, and sends them all", async () => {
    const limiter = new SendLimiter(3);
    let inFlight = 0;
    let most = 0;
    const sent: string[] = [];
    const release: (() => void)[] = [];
    const queue = {
      send: async (m: DeviceMessage) => {
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise<void>((resolve) => release.push(resolve));
        inFlight--;
        sent.push(m.rowKey);
      },
    };
    const a = limiter.wrap(queue);
    const b = limiter.wrap(queue);
    const all = Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).send(message(i))));
    // Let the sends go one at a time, in the order they were started.
    while (sent.length < 10) {
      await new Promise((resolve) => setImmediate(resolve));
      expect(inFlight).toBeLessThanOrEqual(3);
      release.shift()?.();
    }
    await all;
    expect(most).toBe(3);
    expect(sent.sort()).toEqual(Array.from({ length: 10 }, (_, i) => message(i).rowKey).sort());
  });

  it("gives the slot of a failed send to the next one", async () => {
    const limiter = new SendLimiter(1);
    const queue = limiter.wrap({
      send: async (m) => {
        if (m.rowKey.endsWith("0")) throw new Error("queue unreachable");
      },
    });
    const [first, second] = await Promise.allSettled([queue.send(message(0)), queue.send(message(1))]);
    expect(first.status).toBe("rejected");
    expect(second.status).toBe("fulfilled");
    await queue.send(message(2));
    expect(() => new SendLimiter(0)).toThrow(RangeError);
  });
});

describe("SendLimiter.yieldTo", () => {
  it("keeps one send in flight while an intake runs, and the full limit again after it", async () => {
    const limiter = new SendLimiter(4);
    let inFlight = 0;
    let most = 0;
    const release: (() => void)[] = [];
    const queue = limiter.wrap({
      send: async () => {
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise<void>((resolve) => release.push(resolve));
        inFlight--;
      },
    });
    let endIntake!: () => void;
    const intake = limiter.yieldTo(() => new Promise<void>((resolve) => (endIntake = resolve)));
    const sends = Promise.all(Array.from({ length: 6 }, (_, i) => queue.send(message(i))));
    for (let i = 0; i < 3; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      expect(inFlight).toBe(1);
      release.shift()!();
    }
    endIntake();
    await intake;
    await new Promise((resolve) => setImmediate(resolve));
    // The three sends left go at once, the limit being 4 again.
    expect(inFlight).toBe(3);
    while (release.length > 0) release.shift()!();
    await sends;
    expect(most).toBe(3);
  });
});
