import { describe, expect, it } from "vitest";
import type { DeviceMessage } from "../../src/storage/deviceMessage.js";
import type { DeviceMessageSender } from "../../src/storage/deviceQueue.js";
import { sendAllForSlots, sendForSlot, type SlotSend } from "../../src/storage/slotSends.js";
import { MIN_VISIBLE_LEAD_MS } from "../../src/model/pacing.js";

/** The lead a message sent with `delayMs` gets, in the sender's own terms: queue delays are whole seconds. */
const leadOf = (delayMs: number) => (delayMs === 0 ? undefined : delayMs + 999 - 1000 * Math.ceil(delayMs / 1000));

function recorder(failAt = Infinity): DeviceMessageSender & { sent: { rowKey: string; delayMs: number }[] } {
  const sent: { rowKey: string; delayMs: number }[] = [];
  return {
    sent,
    async send(message, delayMs = 0) {
      if (sent.length >= failAt) throw new Error("queue unreachable");
      sent.push({ rowKey: message.rowKey, delayMs });
    },
  };
}

const submit = (rowKey: string, slotAt: number): SlotSend => ({
  slotAt,
  message: { v: 1, kind: "submit", batchId: "b", rowKey, attempt: 1, slotAt } satisfies DeviceMessage,
});

describe("sending device messages for their write slots", () => {
  it("sends every message once, each with a lead of at least MIN_VISIBLE_LEAD_MS", async () => {
    const queue = recorder();
    const start = Date.now() + 1_000;
    // Slots 41 ms apart over 8 s: their leads, unheld, would fall all over the second.
    const sends = Array.from({ length: 200 }, (_, k) => submit(`r${k}`, start + k * 41));
    await sendAllForSlots(queue, sends, 8);
    expect(queue.sent.map((s) => s.rowKey).sort()).toEqual(sends.map((s) => s.message.rowKey).sort());
    for (const { delayMs } of queue.sent) {
      const lead = leadOf(delayMs);
      if (lead !== undefined) expect(lead).toBeGreaterThanOrEqual(MIN_VISIBLE_LEAD_MS);
    }
  });

  it("does not hold up the others while one send is held back", async () => {
    const queue = recorder();
    const now = Date.now();
    // The first would get a 150 ms lead and is held; the second's 700 ms lead is fine.
    await sendAllForSlots(queue, [submit("held", now + 5_150), submit("fine", now + 5_700)], 1);
    expect(queue.sent.map((s) => s.rowKey)).toEqual(["fine", "held"]);
  });

  it("ends with a clock that does not move", async () => {
    const queue = recorder();
    const frozen = 1_700_000_000_000;
    await sendAllForSlots(queue, [submit("a", frozen + 5_100), submit("b", frozen + 5_600)], 2, () => frozen);
    expect(queue.sent.map((s) => s.rowKey).sort()).toEqual(["a", "b"]);
  });

  it("stops at the first failed send and throws it", async () => {
    const queue = recorder(3);
    const start = Date.now() + 1_000;
    await expect(
      sendAllForSlots(
        queue,
        Array.from({ length: 50 }, (_, k) => submit(`r${k}`, start + k * 41)),
        1,
      ),
    ).rejects.toThrow("queue unreachable");
    expect(queue.sent).toHaveLength(3);
  });

  it("holds one send no longer than it is allowed to", async () => {
    const queue = recorder();
    const now = 1_700_000_000_000;
    expect(await sendForSlot(queue, submit("a", now + 5_100), 50, () => now)).toBe(0);
    expect(leadOf(queue.sent[0]!.delayMs)).toBe(100);
    expect(await sendForSlot(queue, submit("b", now + 5_100), 1_000, () => now)).toBe(101);
  });
});
