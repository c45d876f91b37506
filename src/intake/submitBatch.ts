import { randomUUID } from "node:crypto";
import type { Logger } from "../telemetry/logging.js";
import { countAccepted } from "../telemetry/metrics.js";
import type { DeviceMessageSender } from "../storage/deviceQueue.js";
import { BATCH_ROW_KEY, deviceRowKey, type BatchEntity, type DeviceEntity } from "../storage/importEntities.js";
import type { IntakeJournal } from "./intakeJournal.js";
import type { ImportStore } from "../storage/importStore.js";
import type { TenantPacing } from "../storage/tenantPacing.js";
import { firstPoll } from "../worker/pollBatch.js";
import { sendAllForSlots, type SlotSend } from "../storage/slotSends.js";
import { forEachLimited } from "../storage/importStore.js";
import { initialProgressRows } from "./fanOutProgress.js";
import { packPages } from "../storage/devicePages.js";
import { queueDelayForSlot } from "../model/pacing.js";
import type { FanOutSender } from "./fanOutMessage.js";
import { fanOutDelayMs, slotAtOf, slotCount, splitIntoRanges, type FanOutSchedule } from "./fanOutPlan.js";
import { chunkSends, deviceIndexOf, groupIntoChunks } from "../worker/chunks.js";
import type { ImportRequest } from "./deviceSchema.js";
import type { DeviceMessage } from "../storage/deviceMessage.js";
import { countByModel } from "./deviceModels.js";
import { errorMessage } from "../model/errorMessage.js";

export interface IntakeDeps {
  store: ImportStore;
  journal: IntakeJournal;
  queue: DeviceMessageSender;
  pacing: Pick<TenantPacing, "reserve">;
  /** Parallel table transactions (device rows) and queue sends. */
  enqueueConcurrency: number;
  /** Where a durable batch's fan-out messages go (fanOutBatch.ts expands them), and how many devices each carries. */
  fanOut: FanOutSender;
  fanOutRangeDevices: number;
  /** When the batch's first poll round looks at its imports. */
  firstPollDelayMs: number;
  /** Devices per write slot (import action) and how long after it the other devices' messages come; absent: one device a slot. */
  chunking?: Chunking;
  log: Logger;
  now?: () => Date;
}

export interface Chunking {
  size: number;
  followerDelayMs: number;
}

export interface AcceptedBatch {
  batchId: string;
  deviceCount: number;
  tenantId: string;
  /** False when the batch is durable but some messages still have to be sent by the sweeper. */
  fullyEnqueued: boolean;
}

/**
 * Records a validated batch and starts its fan-out; the caller answers 202 as soon as this returns.
 *
 * Order matters for "nothing lost, nothing half-accepted": journal entry, the devices in pages of
 * up to 99 (devicePages.ts), counters and the fan-out's progress rows, then the header (from here
 * on the batch is durable and will be processed), then the batch's write slots, its first poll
 * round and a few fan-out messages (one per range of FANOUT_RANGE_DEVICES devices). The device
 * rows and messages are written afterwards by the fan-out's workers (fanOutBatch.ts), the last of
 * which removes the journal entry. A failure
 * before the header is written throws (the caller answers 503 and nothing runs); a failure after
 * it leaves the rest to the sweeper.
 */
export async function submitBatch(
  deps: IntakeDeps,
  /** `batchId`: an id reserved beforehand (by an Idempotency-Key claim); otherwise a new one. */
  request: ImportRequest & { tenantId: string; partnerId: string; batchId?: string },
  source: "json" | "csv",
  lines?: readonly number[],
): Promise<AcceptedBatch> {
  const batchId = request.batchId ?? randomUUID();
  const createdAt = (deps.now?.() ?? new Date()).toISOString();
  const batch: BatchEntity = {
    partitionKey: batchId,
    rowKey: BATCH_ROW_KEY,
    partnerId: request.partnerId,
    tenantId: request.tenantId,
    ...(request.orderIdentifier ? { orderIdentifier: request.orderIdentifier } : {}),
    ...(request.groupTag ? { groupTag: request.groupTag } : {}),
    ...(request.callbackUrl ? { callbackUrl: request.callbackUrl } : {}),
    // Only the non-default choices are stored; absent means imported / fail.
    ...(request.followUntil === "profileAssigned" ? { followUntil: request.followUntil } : {}),
    ...(request.onExisting === "update" ? { onExisting: request.onExisting } : {}),
    ...(request.hashCheck === "off" ? { hashCheck: "off" as const } : {}),
    deviceModels: JSON.stringify(countByModel(request.devices)),
    deviceCount: request.devices.length,
    source,
    intakeState: "enqueueing",
    createdAt,
  };
  const devices: DeviceEntity[] = request.devices.map(({ warnings, ...device }, index) => ({
    partitionKey: batchId,
    rowKey: deviceRowKey(index),
    index,
    ...(lines?.[index] ? { line: lines[index] } : {}),
    ...device,
    ...(warnings?.length ? { warnings: JSON.stringify(warnings) } : {}),
    tenantId: request.tenantId,
    ...(batch.followUntil ? { followUntil: batch.followUntil } : {}),
    ...(batch.onExisting ? { onExisting: batch.onExisting } : {}),
    state: "queued",
    attempts: 0,
    createdAt,
    updatedAt: createdAt,
  }));

  const chunkSize = deps.chunking?.size ?? 1;
  const ranges = splitIntoRanges(devices.length, deps.fanOutRangeDevices, chunkSize);
  await deps.journal.begin(batchId, createdAt, request.partnerId);
  // Pages, not rows: the fan-out writes each range's device rows before it sends their messages.
  const pages = packPages(
    batchId,
    devices,
    ranges.map((r) => r.from),
  );
  await deps.store.writeBatch(batch, deps.enqueueConcurrency, [...initialProgressRows(batchId, ranges, chunkSize, createdAt), ...pages]);
  // From here the batch is durable and answered 202, whether or not its fan-out messages go out now.
  countAccepted(devices.length, source);

  const fields = { batchId, tenantId: request.tenantId, partnerId: request.partnerId, deviceCount: devices.length };
  try {
    // The batch's slots in one pacing write, from a moment ahead (the fan-out's first messages
    // must be in the queue before their slots); each range's worker sends its devices into them.
    const clock = () => (deps.now?.() ?? new Date()).getTime();
    const now = clock();
    const slots = await deps.pacing.reserve(request.tenantId, slotCount(devices.length, chunkSize), now, now + FANOUT_LEAD_MS);
    const schedule: FanOutSchedule = {
      firstSlotAt: slots.firstSlotAt,
      intervalMs: slots.intervalMs,
      shiftMs: slots.shiftMs,
      firstDevice: 0,
    };
    // The first poll round comes a follow-up delay after the batch's first slot. Sent before the
    // fan-out: a batch whose fan-out ran has its poll chain (else the sweeper starts one).
    await deps.queue.send(firstPoll(batchId), queueDelayForSlot(slots.firstSlotAt + deps.firstPollDelayMs, clock()));
    await forEachLimited(ranges, deps.enqueueConcurrency, ({ range, from, to }) =>
      deps.fanOut.send(
        { v: 1, kind: "fanOut", batchId, tenantId: request.tenantId, range, from, to, chunkSize, schedule },
        fanOutDelayMs(slotAtOf(schedule, from, chunkSize), clock()),
      ),
    );
  } catch (error) {
    deps.log.warn("batch is durable but its fan-out did not start; the sweeper will start it", { ...fields, reason: errorMessage(error) });
    return { batchId, deviceCount: devices.length, tenantId: request.tenantId, fullyEnqueued: false };
  }
  deps.log.info("batch accepted", { ...fields, reason: `${ranges.length} fan-out ranges` });
  return { batchId, deviceCount: devices.length, tenantId: request.tenantId, fullyEnqueued: true };
}

/**
 * How far ahead of the 202 a batch's first slot is: longer than the fan-out message takes to
 * reach a worker (a queue trigger polls an idle queue every 500 ms at most) and its first device
 * messages to be sent with their lead (pacing.ts, MIN_VISIBLE_LEAD_MS).
 */
export const FANOUT_LEAD_MS = 1_500;

/** How far ahead of now a batch's first slot is: longer than sending its first messages takes. */
export const SCHEDULE_LEAD_MS = 1_000;

/**
 * Sends each device's first create attempt, scheduled into the tenant's write budget: the batch
 * takes consecutive slots in one pacing write, and each message becomes visible at its slot.
 * Devices of a big batch therefore wait in the queue, invisible, rather than in a worker, and
 * another tenant's devices are never behind them. With chunking, a slot carries a chunk of up to
 * `chunking.size` consecutive devices (one import action): its leader's message comes at the
 * slot, the others' later (chunks.ts, chunkSends). A device given with its `attempt` (a retry of
 * a failed device) is sent as that attempt, alone at its slot: retried devices are scattered
 * through the batch, and a chunk's leader claims only devices of one attempt.
 */
export async function enqueueDevices(
  deps: Pick<IntakeDeps, "queue" | "enqueueConcurrency" | "pacing" | "now" | "chunking">,
  batchId: string,
  tenantId: string,
  devices: readonly (string | { rowKey: string; attempt: number })[],
  /** A poll round to send with them, due `afterFirstSlotMs` after the first slot. */
  poll?: { message: DeviceMessage; afterFirstSlotMs: number },
  /** "deregister": the devices of a deregistration batch, each delete a write slot of its own (never chunked). */
  kind: "submit" | "deregister" = "submit",
): Promise<void> {
  if (devices.length === 0) {
    if (poll) await deps.queue.send(poll.message, poll.afterFirstSlotMs);
    return;
  }
  const firstAttempts = devices.every((d) => typeof d === "string");
  const chunkSize = firstAttempts && kind === "submit" ? (deps.chunking?.size ?? 1) : 1;
  const entries = devices.map((d) => (typeof d === "string" ? { rowKey: d, attempt: 1 } : d));
  const groups =
    chunkSize > 1
      ? groupIntoChunks(
          entries.map((e) => deviceIndexOf(e.rowKey)).sort((a, b) => a - b),
          chunkSize,
        )
      : undefined;
  const clock = () => (deps.now?.() ?? new Date()).getTime();
  const now = clock();
  // The schedule starts a moment ahead, so the first messages are in the queue before their
  // slots come; one sent after its slot would go late and crowd the next ones into one window.
  const slots = await deps.pacing.reserve(tenantId, groups?.length ?? entries.length, now, now + SCHEDULE_LEAD_MS);
  const slotAt = (k: number) => Math.round(slots.firstSlotAt + k * slots.intervalMs);
  const sends: SlotSend[] = groups
    ? groups.flatMap((group, k) => chunkSends(batchId, group, 1, slotAt(k), slots.shiftMs, deps.chunking!.followerDelayMs))
    : entries.map(({ rowKey, attempt }, k) => ({
        slotAt: slotAt(k),
        message: { v: 1, kind, batchId, rowKey, attempt, slotAt: slotAt(k), shiftAt: slots.shiftMs },
      }));
  if (poll) sends.push({ message: poll.message, slotAt: slotAt(0) + poll.afterFirstSlotMs, hold: false });
  // Leaders (due first) before followers (due a few windows later).
  sends.sort((a, b) => a.slotAt - b.slotAt);
  // Each delay is taken when its message is sent, not when the batch started sending; a send is
  // held back a moment where that gives its message a usable lead (slotSends.ts).
  await sendAllForSlots(deps.queue, sends, deps.enqueueConcurrency, clock);
}
