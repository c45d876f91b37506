import { describe, expect, it } from "vitest";
import { SendLimiter } from "../../src/storage/sendLimiter.js";
import type { DeviceMessage } from "../../src/storage/deviceMessage.js";

const message = (i: number): DeviceMessage => ({ v: 1, kind: "submit", batchId: "b", rowKey: `device-${String(i).padStart(6, "0")}`, attempt: 1 });

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
    const queue = limiter.wrap({ send: async (m) => { if (m.rowKey.endsWith("0")) throw new Error("queue unreachable"); } });
    const [first, second] = await Promise.allSettled([queue.send(message(0)), queue.send(message(1))]);
    expect(first.status).toBe("rejected");
    expect(second.status).toBe("fulfilled");
    await queue.send(message(2));
    expect(() => new SendLimiter(0)).toThrow(RangeError);
  });
});
