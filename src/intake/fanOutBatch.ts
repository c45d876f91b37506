import type { Logger } from "../telemetry/logging.js";
import type { DeviceMessageSender } from "../storage/deviceQueue.js";
import type { FanOutProgress } from "./fanOutProgress.js";
import type { ImportStore } from "../storage/importStore.js";
import type { IntakeJournal } from "./intakeJournal.js";
import { sendAllForSlots, type SlotSend } from "../storage/slotSends.js";
import type { TenantPacing } from "../storage/tenantPacing.js";
import type { FanOutMessage } from "./fanOutMessage.js";
import { leadersAndFollowers, rangeSends, scheduleIsStale, slotCount, windowsOf, type FanOutSchedule } from "./fanOutPlan.js";
import { SCHEDULE_LEAD_MS } from "./submitBatch.js";
import { RangeRows, type RangeRowsStore } from "./rangeRows.js";
import { deviceRowKey } from "../storage/importEntities.js";
import { deviceIndexOf } from "../worker/chunks.js";
import type { StoredFanOutProgress } from "./fanOutProgress.js";

/** Devices sent between two records of a range's progress: at most this many messages go twice after a crash. */
export const FANOUT_WINDOW_DEVICES = 200;

export interface FanOutDeps {
  store: Pick<ImportStore, "markAccepted" | "readDeviceRange" | "cancelDevices"> & RangeRowsStore;
  progress: FanOutProgress;
  journal: Pick<IntakeJournal, "finish">;
  queue: DeviceMessageSender;
  pacing: Pick<TenantPacing, "reserve">;
  enqueueConcurrency: number;
  followerDelayMs: number;
  log: Logger;
  now?: () => Date;
}

export type FanOutOutcome = "sent" | "already-done" | "taken-over" | "gone" | "canceled";

/**
 * Expands one fan-out message into its devices' rows (from the pages intake wrote, rangeRows.ts)
 * and their messages (fanOutPlan.ts, rangeSends): with chunks, every chunk's leader first, each as
 * soon as its rows are written, then the followers window by window from the range's recorded
 * progress, recording it after each window. A batch canceled before its rows were written gets
 * them written as `canceled`, and no messages. Idempotent: a second delivery starts where the first
 * stopped (re-sending at most one window, or the range's leaders if no window was recorded, whose
 * duplicates the workers' claims drop), a delivery after the range is done sends nothing. A schedule that has
 * gone stale (a redelivery after a crash, the sweeper's copy) is replaced by new slots of the
 * tenant's budget for the rest of the range. The range that completes the batch's fan-out marks
 * the batch accepted and removes its intake journal entry.
 */
export async function fanOutBatch(deps: FanOutDeps, message: FanOutMessage): Promise<FanOutOutcome> {
  const clock = () => (deps.now?.() ?? new Date()).getTime();
  const iso = () => new Date(clock()).toISOString();
  const fields = { batchId: message.batchId, tenantId: message.tenantId };
  let row = await deps.progress.read(message.batchId, message.range);
  if (!row) {
    deps.log.info("fan-out of a batch that is gone", fields);
    return "gone";
  }
  if (row.done) {
    await finishIfComplete(deps, message.batchId);
    return "already-done";
  }
  const { chunkSize } = message;
  // With chunks, the range's leaders all go first (fanOutPlan.ts, leadersAndFollowers), before
  // any window is recorded: a range with progress has sent every leader, and only followers are
  // left. Without chunks every device is its own leader, sent window by window in slot order.
  const leadersFirst = chunkSize > 1;
  const leadersLeft = !leadersFirst || row.next === row.from;
  let schedule: FanOutSchedule | undefined = message.schedule;
  if (leadersLeft && scheduleIsStale(schedule, row.next, chunkSize, clock())) {
    const now = clock();
    const slots = await deps.pacing.reserve(message.tenantId, slotCount(row.to - row.next, chunkSize), now, now + SCHEDULE_LEAD_MS);
    schedule = { firstSlotAt: slots.firstSlotAt, intervalMs: slots.intervalMs, shiftMs: slots.shiftMs, firstDevice: row.next };
  }
  // Only followers left and no schedule (the sweeper's copy): their leaders went; they come a follower delay from now.
  schedule ??= { firstSlotAt: clock(), intervalMs: 1, shiftMs: 0, firstDevice: row.next };
  const rows = new RangeRows(deps.store, message.batchId, row.from, row.to);
  if (leadersFirst && leadersLeft) {
    // Sent again if this range was cut short before its first window was recorded: a leader's second message is dropped by its claim.
    // Each leader goes as soon as its chunk's rows are written, so the first slots are met while the later pages are still being written.
    const { leaders } = leadersAndFollowers(rangeSends(message.batchId, row.from, row.to, chunkSize, schedule, deps.followerDelayMs));
    let sent = 0;
    while (sent < leaders.length) {
      const { upTo, canceled } = await rows.expandNext();
      if (canceled) return cancelRange(deps, message, row, rows);
      const ready: SlotSend[] = [];
      while (sent < leaders.length && lastDeviceOf(leaders[sent]!) < upTo) ready.push(leaders[sent++]!);
      await sendAllForSlots(deps.queue, ready, deps.enqueueConcurrency, clock);
    }
  }
  for (const window of windowsOf(row.next, row.to, message.from, chunkSize, FANOUT_WINDOW_DEVICES)) {
    if ((await rows.expandThrough(window.to)).canceled) return cancelRange(deps, message, row, rows);
    const all = rangeSends(message.batchId, window.from, window.to, chunkSize, schedule, deps.followerDelayMs);
    const sends = leadersFirst ? leadersAndFollowers(all).followers : all;
    await sendAllForSlots(deps.queue, sends, deps.enqueueConcurrency, clock);
    const etag = await deps.progress.advance(row, window.to, iso());
    if (!etag) {
      deps.log.info("fan-out range taken over by another worker; stopping", {
        ...fields,
        reason: `range ${message.range} at device ${window.to}`,
      });
      return "taken-over";
    }
    row = { ...row, next: window.to, done: window.to >= row.to, etag };
  }
  await finishIfComplete(deps, message.batchId);
  return "sent";
}

/** Once every range of the batch is done: the batch is accepted and its journal entry goes. */
export async function finishIfComplete(
  deps: Pick<FanOutDeps, "progress" | "store" | "journal" | "now">,
  batchId: string,
): Promise<boolean> {
  const ranges = await deps.progress.list(batchId);
  if (ranges.length === 0 || ranges.some((r) => !r.done)) return false;
  await deps.store.markAccepted(batchId, (deps.now?.() ?? new Date()).toISOString());
  await deps.journal.finish(batchId);
  return true;
}

/** The last device a send stands for: its chunk's last with chunks, else its own. */
function lastDeviceOf(send: SlotSend): number {
  const chunk = "chunk" in send.message ? send.message.chunk : undefined;
  return chunk ? deviceIndexOf(chunk.first) + chunk.size - 1 : deviceIndexOf(send.message.rowKey);
}

/**
 * The batch was canceled while its rows were still in pages: the rest of the range's rows are
 * written, its waiting devices canceled (counters with them, as a cancel moves them), and the
 * range is done without sending anything more. A device an attempt already holds is left to its
 * worker, as a cancel leaves it; a message already sent for a device canceled here is dropped by
 * its worker.
 */
async function cancelRange(deps: FanOutDeps, message: FanOutMessage, row: StoredFanOutProgress, rows: RangeRows): Promise<"canceled"> {
  await rows.expandThrough(row.to, true);
  const at = (deps.now?.() ?? new Date()).toISOString();
  const canceled = await deps.store.cancelDevices(
    await deps.store.readDeviceRange(message.batchId, deviceRowKey(row.from), row.to - row.from),
    at,
  );
  await deps.progress.advance(row, row.to, at);
  await finishIfComplete(deps, message.batchId);
  deps.log.info("fan-out of a canceled batch: devices canceled", {
    batchId: message.batchId,
    tenantId: message.tenantId,
    deviceCount: canceled.length,
  });
  return "canceled";
}
