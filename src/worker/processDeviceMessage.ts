import type { RetryPolicy } from "../config/config.js";
import type { GraphClient, GraphResult } from "../graph/graphClient.js";
import { explainImportError, importErrorName } from "../graph/importErrors.js";
import type { ImportedDeviceCreate, ImportedDeviceIdentity } from "../graph/importedDevice.js";
import type { Logger } from "../logging.js";
import type { DeviceMessage } from "../storage/deviceMessage.js";
import type { DeviceMessageSender } from "../storage/deviceQueue.js";
import type { DeviceEntity, DeviceFields, StoredDevice } from "../storage/importEntities.js";
import { DeviceChangedError, type ImportStore } from "../storage/importStore.js";
import type { TenantPacing } from "../storage/tenantPacing.js";
import { retryDelayMs } from "./backoff.js";
import { dueAt, MAX_RESCHEDULES, MAX_WAIT_IN_FUNCTION_MS } from "./pacing.js";
import { sendForSlot } from "../storage/slotSends.js";
import { countSubmitted } from "../telemetry/metrics.js";
import { classifyFailure } from "./classifyGraphResult.js";
import { judgeMessage } from "./messageGuard.js";

export interface WorkerDeps {
  store: ImportStore;
  queue: DeviceMessageSender;
  pacing: Pick<TenantPacing, "current" | "reserve" | "throttledThenReserve" | "lateToleranceMs">;
  graph: GraphClient;
  retry: RetryPolicy;
  log: Logger;
  now?: () => Date;
  random?: () => number;
}

/** The queue message's identity as the host delivered it. */
export interface Delivery {
  id: string;
  dequeueCount: number;
}

export type StepOutcome =
  | "missing"
  | "stale"
  | "deferred"
  | "rescheduled"
  | "submitted"
  | "retry-scheduled"
  | "imported"
  | "failed"
  | "canceled";

/**
 * One create attempt of one device, at its write slot. Never waits for a retry in-process: a
 * later attempt is a new message made visible later. The import that follows a 201 is followed
 * by the batch's poll rounds (pollBatch.ts). Throws only when storage itself fails, so the host
 * redelivers the message.
 */
export async function processDeviceMessage(deps: WorkerDeps, message: DeviceMessage, delivery: Delivery): Promise<StepOutcome> {
  for (let judged = 1; ; judged++) {
    const device = await deps.store.readDevice(message.batchId, message.rowKey);
    if (!device) {
      deps.log.warn("device row not found; dropping message", { batchId: message.batchId, rowKey: message.rowKey });
      return "missing";
    }
    const verdict = judgeMessage(device, message, delivery.id);
    if (verdict === "stale") return "stale";
    try {
      return await submitStep(deps, device, message, delivery, verdict === "resume");
    } catch (error) {
      if (!(error instanceof DeviceChangedError)) throw error;
      // The row moved under us, but maybe by our own write: one whose answer was lost (storage cut
      // mid-request) lands, its retry then fails the ETag check. Dropping the message would leave
      // the device claimed or retrying with no message for ever, so judge it again from the row:
      // our own landed write reads as "resume", another copy's as "stale".
      if (judged >= 2) return "stale";
    }
  }
}

async function submitStep(
  deps: WorkerDeps,
  device: StoredDevice,
  message: DeviceMessage,
  delivery: Delivery,
  resuming: boolean,
): Promise<StepOutcome> {
  const now = clock(deps);
  // A crash after the row was written but before the next message was sent: send it now.
  if (resuming && device.state === "retrying") {
    const slotAt = device.nextAttemptAt ? Date.parse(device.nextAttemptAt) : now.getTime();
    const { shiftMs } = await deps.pacing.current(device.tenantId, now.getTime());
    await sendForSlot(deps.queue, { message: nextSubmit(message, slotAt, shiftMs), slotAt }, MAX_WAIT_IN_FUNCTION_MS, epochClock(deps));
    return "retry-scheduled";
  }
  // A poll round found the record already; the batch's poll rounds follow the import from here.
  if (resuming && device.state === "submitted") return "submitted";

  let due: number | undefined;
  if (!resuming && message.slotAt !== undefined) {
    // A pause (429) since this slot was handed out moves it back by the pause's length.
    const { shiftMs } = await deps.pacing.current(device.tenantId, now.getTime());
    due = dueAt(message.slotAt, message.shiftAt ?? shiftMs, shiftMs);
    if (due - now.getTime() > MAX_WAIT_IN_FUNCTION_MS) {
      const sendHoldMs = await sendForSlot(deps.queue, { message: { ...message, slotAt: due, shiftAt: shiftMs }, slotAt: due }, MAX_WAIT_IN_FUNCTION_MS, epochClock(deps));
      deps.log.info("early for its write slot; back to the queue", { batchId: message.batchId, rowKey: message.rowKey, tenantId: device.tenantId, attempt: message.attempt, delayMs: Math.round(due - now.getTime()), sendHoldMs });
      return "deferred";
    }
    const arrivedLateMs = now.getTime() - due;
    if (arrivedLateMs > deps.pacing.lateToleranceMs && (message.rescheduled ?? 0) < MAX_RESCHEDULES) {
      // Too late to go now (the host picked the message up late): a new slot instead, before
      // anything is written, so the write never lands among the punctual ones of a later window.
      const slot = await deps.pacing.reserve(device.tenantId, 1, now.getTime());
      const slotAt = Math.round(slot.firstSlotAt);
      const next = { ...message, slotAt, shiftAt: slot.shiftMs, rescheduled: (message.rescheduled ?? 0) + 1 };
      const sendHoldMs = await sendForSlot(deps.queue, { message: next, slotAt }, MAX_WAIT_IN_FUNCTION_MS, epochClock(deps));
      deps.log.info("late for its write slot; given a new one", { batchId: message.batchId, rowKey: message.rowKey, tenantId: device.tenantId, attempt: message.attempt, delayMs: Math.round(arrivedLateMs), sendHoldMs });
      return "rescheduled";
    }
  }

  // Take the device before calling Graph, so a duplicate copy of this message cannot create it twice.
  const claimed =
    device.state === "submitting" && device.claimedBy === delivery.id
      ? device
      : await deps.store.transitionDevice(device, {
          state: "submitting",
          attempts: message.attempt,
          claimedBy: delivery.id,
          // The last attempt's error is history now; this attempt writes its own if it fails.
          // Whether that attempt may have created a record is not: the lookup below needs it.
          ...clearedError,
          inDoubt: device.inDoubt,
          updatedAt: now.toISOString(),
        });

  // Wait out the last moments to the slot only now, after the storage round-trip, so the write
  // leaves at its slot and not at the slot plus however long storage took.
  let slotWaitMs = 0;
  let lateMs: number | undefined;
  if (due !== undefined) {
    slotWaitMs = Math.max(0, Math.round(due - clock(deps).getTime()));
    if (slotWaitMs > 0) await new Promise((resolve) => setTimeout(resolve, slotWaitMs));
    // Writes that leave late bunch up behind their slots, which is what makes Graph throttle.
    lateMs = Math.max(0, Math.round(clock(deps).getTime() - due));
  }

  // A create that timed out or failed on the server may have succeeded: find out before creating
  // again, so Graph never holds two records of ours for one device.
  const earlier = claimed.inDoubt || resuming ? await deps.graph.findImportedDeviceByImportId(claimed.tenantId, importIdOf(claimed)) : undefined;
  const result: GraphResult<ImportedDeviceIdentity> =
    earlier?.kind === "ok" && earlier.body
      ? { kind: "ok", status: 200, body: earlier.body }
      : earlier && earlier.kind !== "ok"
        ? earlier
        : await deps.graph.createImportedDevice(claimed.tenantId, createBody(claimed));
  const at = clock(deps).toISOString();
  // The time this invocation sat idle before its write: bounded by MAX_WAIT_IN_FUNCTION_MS, logged so it can be watched.
  const fields = { batchId: message.batchId, rowKey: message.rowKey, tenantId: claimed.tenantId, attempt: message.attempt, slotWaitMs, ...(lateMs !== undefined ? { lateMs } : {}) };

  if (result.kind === "ok") {
    // Graph accepted this attempt's create (not a record an earlier attempt left).
    if (!(earlier?.kind === "ok" && earlier.body)) countSubmitted();
    const settled = await settleFromGraph(deps, claimed, result.body, at);
    if (settled) return settled;
    // Graph took the record and imports it in the background. Nothing is written here: the
    // batch's next poll round finds the record by its importId and records it (as submitted, or
    // already imported), for up to 99 devices a transaction, instead of a write per device.
    // Until then the device shows as submitting; if this host dies before the message is
    // deleted, the redelivered message finds the record by importId and creates nothing.
    deps.log.info("device submitted", { ...fields, status: result.status });
    return "submitted";
  }

  const failure = classifyFailure(result);
  const status = result.kind === "http-error" ? result.status : undefined;
  if (failure.kind === "permanent") {
    await fail(deps, claimed, failure.errorCode, failure.errorMessage, at);
    deps.log.warn("Graph rejected device", { ...fields, ...(status ? { status } : {}), errorCode: failure.errorCode });
    return "failed";
  }
  // The batch was canceled while this attempt was in flight: nothing was created (or a lost answer
  // would have said so in `inDoubt`), so the device ends here instead of trying again.
  if (!claimed.inDoubt && !mayHaveCreated(result) && (await deps.store.readBatch(message.batchId))?.canceledAt) {
    await deps.store.transitionDevice(claimed, { state: "canceled", ...clearedError, updatedAt: at });
    deps.log.info("device canceled after a transient failure", { ...fields, errorCode: failure.errorCode });
    return "canceled";
  }
  const isThrottle = status === 429;
  const failures = (claimed.failures ?? 0) + (isThrottle ? 0 : 1);
  if (failures >= deps.retry.maxAttempts) {
    await fail(
      deps,
      claimed,
      "RetriesExhausted",
      `retries exhausted after ${failures} transient failures; last error: ${failure.errorCode}: ${failure.errorMessage}`,
      at,
      { failures },
    );
    deps.log.warn("retries exhausted", { ...fields, errorCode: failure.errorCode });
    return "failed";
  }
  // Throttling pauses the whole tenant; any other transient failure backs off this device alone.
  // Either way the next attempt takes a new write slot, so retries stay inside the budget.
  const slot = isThrottle
    ? await deps.pacing.throttledThenReserve(claimed.tenantId, failure.retryAfterMs ?? retryDelayMs(1, deps.retry, undefined, deps.random), Date.parse(at))
    : await deps.pacing.reserve(claimed.tenantId, 1, Date.parse(at), Date.parse(at) + retryDelayMs(failures, deps.retry, failure.retryAfterMs, deps.random));
  const slotAt = Math.round(slot.firstSlotAt);
  await deps.store.transitionDevice(claimed, {
    state: "retrying",
    failures,
    inDoubt: claimed.inDoubt || mayHaveCreated(result),
    nextAttemptAt: new Date(slotAt).toISOString(),
    errorCode: failure.errorCode,
    errorMessage: failure.errorMessage,
    updatedAt: at,
  });
  // A hold for the next message's lead is a wait too: together with the slot wait, never over MAX_WAIT_IN_FUNCTION_MS.
  const sendHoldMs = await sendForSlot(deps.queue, { message: nextSubmit(message, slotAt, slot.shiftMs), slotAt }, MAX_WAIT_IN_FUNCTION_MS - slotWaitMs, epochClock(deps));
  deps.log.info("retry scheduled", { ...fields, ...(status ? { status } : {}), errorCode: failure.errorCode, delayMs: slotAt - Date.parse(at), sendHoldMs });
  return "retry-scheduled";
}

/** Records a final import state if Graph reports one; undefined while the import still runs. */
async function settleFromGraph(
  deps: WorkerDeps,
  device: StoredDevice,
  imported: ImportedDeviceIdentity,
  at: string,
): Promise<StepOutcome | undefined> {
  const state = imported.state;
  const base = { graphId: imported.id, importStatus: state?.deviceImportStatus, submittedAt: device.submittedAt ?? at, updatedAt: at };
  if (state?.deviceImportStatus === "complete") {
    await deps.store.transitionDevice(device, {
      ...base,
      state: "imported",
      ...clearedError,
      ...(state.deviceRegistrationId ? { deviceRegistrationId: state.deviceRegistrationId } : {}),
    });
    return "imported";
  }
  if (state?.deviceImportStatus === "error") {
    const errorName = importErrorName(state.deviceErrorCode, state.deviceErrorName);
    await deps.store.transitionDevice(device, {
      ...base,
      state: "failed",
      inDoubt: undefined,
      errorCode: state.deviceErrorCode ? String(state.deviceErrorCode) : (errorName ?? "ImportError"),
      errorName,
      errorMessage: explainImportError(state.deviceErrorCode, state.deviceErrorName),
    });
    deps.log.warn("import ended in error", {
      batchId: device.partitionKey,
      rowKey: device.rowKey,
      tenantId: device.tenantId,
      errorCode: String(state.deviceErrorCode ?? errorName),
    });
    return "failed";
  }
  return undefined;
}

async function fail(
  deps: WorkerDeps,
  device: StoredDevice,
  errorCode: string,
  errorMessage: string,
  at: string,
  extra: Partial<DeviceFields> = {},
): Promise<void> {
  await deps.store.transitionDevice(device, {
    ...extra,
    state: "failed",
    errorCode,
    errorName: undefined,
    errorMessage,
    nextAttemptAt: undefined,
    inDoubt: undefined,
    updatedAt: at,
  });
}

/** The fields of a failed or in-doubt attempt, cleared once that attempt is over. */
export const clearedError = { errorCode: undefined, errorName: undefined, errorMessage: undefined, nextAttemptAt: undefined, inDoubt: undefined } as const;

/**
 * Graph's importId for a device is the pipeline's key for it (batch and row), so a record can be
 * found again after a create whose answer was lost. A caller's own importId stays in the row.
 */
export function importIdOf(device: Pick<DeviceEntity, "partitionKey" | "rowKey">): string {
  return `${device.partitionKey}/${device.rowKey}`;
}

function createBody(device: DeviceEntity): ImportedDeviceCreate {
  return {
    serialNumber: device.serialNumber,
    hardwareIdentifier: device.hardwareIdentifier,
    ...(device.productKey ? { productKey: device.productKey } : {}),
    ...(device.groupTag ? { groupTag: device.groupTag } : {}),
    ...(device.assignedUserPrincipalName ? { assignedUserPrincipalName: device.assignedUserPrincipalName } : {}),
    importId: importIdOf(device),
  };
}

/** 429 and 503 say the request was not taken; a timeout, a dropped connection or another 5xx may hide a create. */
function mayHaveCreated(result: GraphResult<unknown>): boolean {
  if (result.kind === "network-error") return true;
  return result.kind === "http-error" && result.status >= 500 && result.status !== 503;
}

function nextSubmit(message: DeviceMessage, slotAt: number, shiftAt: number): DeviceMessage {
  const { rescheduled: _rescheduled, ...rest } = message;
  return { ...rest, kind: "submit", attempt: message.attempt + 1, slotAt, shiftAt };
}

function clock(deps: WorkerDeps): Date {
  return deps.now ? deps.now() : new Date();
}

function epochClock(deps: WorkerDeps): () => number {
  return () => clock(deps).getTime();
}
