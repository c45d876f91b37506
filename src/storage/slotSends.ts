import { queueDelayForSlot, sendHoldMs } from "../model/pacing.js";
import type { DeviceMessage } from "./deviceMessage.js";
import type { DeviceMessageSender } from "./deviceQueue.js";

/** A device message and the write slot it is for (epoch ms). */
export interface SlotSend {
  message: DeviceMessage;
  slotAt: number;
  /** false: no hold for lead (a chunk's follower, due long after its leader, needs no punctual arrival). */
  hold?: boolean;
}

const epochNow = () => Date.now();

/**
 * Sends one message for its slot, held back first if that gives it the lead it needs
 * (pacing.ts, sendHoldMs), but never longer than `maxHoldMs`: the hold is a wait inside the
 * function. Returns the hold, so the caller can report it.
 */
export async function sendForSlot(
  queue: DeviceMessageSender,
  { message, slotAt }: SlotSend,
  maxHoldMs: number,
  now: () => number = epochNow,
): Promise<number> {
  const at = now();
  let holdMs = sendHoldMs(slotAt, at);
  if (holdMs > maxHoldMs) holdMs = 0;
  if (holdMs > 0) await new Promise((resolve) => setTimeout(resolve, holdMs));
  await queue.send(message, delayFrom(slotAt, at + holdMs, now()));
  return holdMs;
}

/**
 * Sends many messages for their slots, `concurrency` at a time, holding back each that needs it
 * (sendHoldMs) without holding up the others: a held message waits aside while the senders go on
 * with the next ones, and is sent as soon as its moment comes. The first error stops the senders
 * and is thrown (the caller's sweeper re-sends whatever did not go).
 */
export async function sendAllForSlots(
  queue: DeviceMessageSender,
  sends: readonly SlotSend[],
  concurrency: number,
  now: () => number = epochNow,
): Promise<void> {
  let next = 0;
  // Held sends, the soonest first.
  const held: { send: SlotSend; readyAt: number }[] = [];
  let failed = false;
  const hold = (send: SlotSend, readyAt: number) => {
    let at = held.length;
    while (at > 0 && held[at - 1]!.readyAt > readyAt) at--;
    held.splice(at, 0, { send, readyAt });
  };
  async function sender(): Promise<void> {
    while (!failed) {
      const at = now();
      let send: SlotSend;
      let plannedAt = at;
      if (held.length > 0 && held[0]!.readyAt <= at) send = held.shift()!.send;
      else if (next < sends.length) {
        send = sends[next++]!;
        const holdMs = send.hold === false ? 0 : sendHoldMs(send.slotAt, at);
        if (holdMs > 0) {
          hold(send, at + holdMs);
          continue;
        }
      } else if (held.length > 0) {
        const soonest = held.shift()!;
        await new Promise((resolve) => setTimeout(resolve, soonest.readyAt - at));
        send = soonest.send;
        plannedAt = soonest.readyAt;
      } else return;
      try {
        await queue.send(send.message, delayFrom(send.slotAt, plannedAt, now()));
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, sends.length)) }, sender));
}

/**
 * The queue delay for a send planned for `plannedAt`: a timer may fire a millisecond before it,
 * and a delay taken from that earlier moment would round to one more second and leave the
 * message no lead at all.
 */
function delayFrom(slotAt: number, plannedAt: number, at: number): number {
  return queueDelayForSlot(slotAt, Math.max(plannedAt, at));
}
