import type { CallTrace, GraphFailureResult, GraphResult } from "../graph/graphClient.js";
import { explainImportError, importErrorName } from "../graph/importErrors.js";
import type { ImportedDeviceIdentity } from "../graph/importedDevice.js";
import { type SubmitMessage, chunkRole } from "../storage/deviceMessage.js";
import type { DeviceFields, StoredDevice } from "../storage/importEntities.js";
import { DeviceChangedError } from "../storage/importStore.js";
import { retryDelayMs } from "../model/backoff.js";
import { dueAt, MAX_RESCHEDULES, MAX_WAIT_IN_FUNCTION_MS } from "../model/pacing.js";
import { sendForSlot } from "../storage/slotSends.js";
import { countSubmitted } from "../telemetry/metrics.js";
import { classifyFailure } from "./classifyGraphResult.js";
import { judgeMessage } from "./messageGuard.js";
import { decideInDoubt, unclearMessage, type InDoubtDecision } from "./recordOwnership.js";
import { failWaitingDevices } from "./failWaitingDevices.js";
import { traceFields, type TraceFields } from "./traceFields.js";
import { importedFollow } from "./profileFollow.js";
import { updatesExisting } from "./updateExisting.js";
import { followerAlone, processChunk } from "./processChunk.js";
import { clearedError, clock, createBody, epochClock, importIdOf, mayHaveCreated, type Delivery, type StepOutcome, type WorkerDeps } from "./createAttempt.js";

/**
 * One create attempt of one device, at its write slot. Never waits for a retry in-process: a
 * later attempt is a new message made visible later. The import that follows a 201 is followed
 * by the batch's poll rounds (pollBatch.ts). Throws only when storage itself fails, so the host
 * redelivers the message.
 */
export async function processDeviceMessage(deps: WorkerDeps, message: SubmitMessage, delivery: Delivery): Promise<StepOutcome> {
  const role = chunkRole(message);
  if (role === "leader") return processChunk(deps, message, delivery);
  if (role === "follower") {
    // The safety net of a chunk: almost always its leader has taken the device (stale, dropped),
    // which one read of the chunk's states per instance tells all of the chunk's followers there.
    if (await deps.chunkClaims?.isStale(message)) return "stale";
    const device = await deps.store.readDevice(message.batchId, message.rowKey);
    if (!device) return "missing";
    if (judgeMessage(device, message, delivery.id) === "fresh") return followerAlone(deps, message, device);
    // Read before the leader took the chunk: the next follower here reads it again.
    deps.chunkClaims?.forget(message);
    return "stale";
  }
  // Whether this invocation has sent a create: a step resumed within it after a lost write
  // answer knows for itself whether Graph may hold a record, as a redelivered message cannot.
  const invocation = { createSent: false };
  for (let judged = 1; ; judged++) {
    const device = await deps.store.readDevice(message.batchId, message.rowKey);
    if (!device) {
      deps.log.warn("device row not found; dropping message", { batchId: message.batchId, rowKey: message.rowKey });
      return "missing";
    }
    const verdict = judgeMessage(device, message, delivery.id);
    if (verdict === "stale") return "stale";
    try {
      return await submitStep(deps, device, message, delivery, verdict === "resume", invocation);
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
  message: SubmitMessage,
  delivery: Delivery,
  resuming: boolean,
  invocation: { createSent: boolean },
): Promise<StepOutcome> {
  const now = clock(deps);
  // A crash after the row was written but before the next message was sent: send it now.
  if (resuming && device.state === "retrying") {
    const slotAt = device.nextAttemptAt ? Date.parse(device.nextAttemptAt) : now.getTime();
    const { shiftMs } = await deps.pacing.current(device.tenantId, now.getTime());
    await sendForSlot(deps.queue, { message: nextSubmit(message, slotAt, shiftMs), slotAt }, MAX_WAIT_IN_FUNCTION_MS, epochClock(deps));
    return "retry-scheduled";
  }
  // Graph has the record (a poll round found it, or this very message stored its id before its
  // host died): the batch's poll rounds follow the import from here.
  if (resuming && (device.state === "submitted" || device.graphId)) return "submitted";

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
          inDoubtSince: device.inDoubtSince,
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

  // The time this invocation sat idle before its write: bounded by MAX_WAIT_IN_FUNCTION_MS, logged so it can be watched.
  const fields = { batchId: message.batchId, rowKey: message.rowKey, tenantId: claimed.tenantId, attempt: message.attempt, slotWaitMs, ...(lateMs !== undefined ? { lateMs } : {}) };
  // An earlier create of this device may have gone through unseen: the last attempt's answer was
  // lost, or this message was taken before (an earlier delivery, or earlier in this invocation) and
  // may have sent one. A first delivery resuming after its own lost claim answer sent nothing.
  const doubtful = device.inDoubt === true || (resuming && (delivery.dequeueCount > 1 || invocation.createSent));
  // A redelivered message's doubt dates from its claim: the create, if any, came just after it.
  const doubtSince = device.inDoubtSince ?? device.updatedAt;
  const attempt = await createOrFind(deps, claimed, doubtful, Date.parse(doubtSince), invocation);
  const at = clock(deps).toISOString();
  const trace = traceFields(attempt.result.trace);

  if (attempt.kind === "wait") {
    // Lists lag creates: a record the doubtful attempt made may not show yet. Look again once it would.
    return scheduleRetry(deps, claimed, message, { at, slotWaitMs, fields, failures: claimed.failures ?? 0, notBefore: attempt.untilMs, doubtSince, trace, errorCode: "ImportLookupPending", errorMessage: "An earlier create may have reached Intune; looking for its record again once the tenant's list can show it." });
  }
  if (attempt.kind === "unclear") {
    await fail(deps, claimed, "ImportOwnershipUnclear", unclearMessage(attempt.decision), at, trace);
    deps.log.warn("lost create: cannot tell which record is ours", { ...fields, ...trace, errorCode: "ImportOwnershipUnclear" });
    return "failed";
  }

  const { result } = attempt;
  if (result.kind === "ok") {
    const record = result.body;
    if (attempt.kind === "created") countSubmitted();
    const found = { ...trace, ...(attempt.kind === "matched" ? { recordMatch: "serialNumber" as const } : {}) };
    const settled = await settleFromGraph(deps, claimed, record, at, found);
    if (settled) return settled;
    // Graph took the record and imports it in the background: its id is what identifies it from
    // now on (never the echoed importId). The device stays `submitting` (no counter moves) and
    // the id rides with the next claim of this batch (ImportStore.recordOnDevice); the batch's
    // next poll round follows the import by that id. The message is deleted only once the id is
    // stored, so a host that dies first leaves a message whose next delivery looks for the record.
    await deps.store.recordOnDevice(claimed, {
      graphId: record.id,
      importStatus: record.state?.deviceImportStatus ?? "unknown",
      submittedAt: claimed.submittedAt ?? at,
      ...clearedError,
      ...found,
      updatedAt: at,
    });
    deps.log.info("device submitted", { ...fields, ...trace, status: result.status, recordFoundBy: attempt.kind });
    return "submitted";
  }

  const failure = classifyFailure(result, claimed.tenantId, deps.graph.consentUrlFor(claimed.tenantId));
  const status = result.kind === "http-error" ? result.status : undefined;
  if (failure.kind === "tenant") {
    await fail(deps, claimed, failure.errorCode, failure.errorMessage, at, trace);
    const others = await failWaitingDevices(deps.store, message.batchId, failure, at);
    deps.log.error("tenant refuses the app; failing the batch's waiting devices", { ...fields, ...trace, ...(status ? { status } : {}), errorCode: failure.errorCode, deviceCount: others + 1 });
    return "failed";
  }
  if (failure.kind === "permanent") {
    await fail(deps, claimed, failure.errorCode, failure.errorMessage, at, trace);
    deps.log.warn("Graph rejected device", { ...fields, ...trace, ...(status ? { status } : {}), errorCode: failure.errorCode });
    return "failed";
  }
  // Whether a record of this device may exist now: its own create's answer was lost (doubt from
  // now), or the doubt this attempt could not resolve (doubt from as before).
  const inDoubtSince = mayHaveCreated(result) ? at : attempt.doubtOpen ? doubtSince : undefined;
  const inDoubt = inDoubtSince !== undefined;
  // The batch was canceled while this attempt was in flight: nothing was created (or a lost answer
  // would have said so in `inDoubt`), so the device ends here instead of trying again.
  if (!inDoubt && (await deps.store.readBatch(message.batchId))?.canceledAt) {
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
      { failures, ...trace },
    );
    deps.log.warn("retries exhausted", { ...fields, ...trace, errorCode: failure.errorCode });
    return "failed";
  }
  const retryAfterMs = failure.retryAfterMs;
  return scheduleRetry(deps, claimed, message, {
    at,
    slotWaitMs,
    fields: { ...fields, ...(status ? { status } : {}) },
    failures,
    ...(inDoubtSince ? { doubtSince: inDoubtSince } : {}),
    trace,
    errorCode: failure.errorCode,
    errorMessage: failure.errorMessage,
    ...(isThrottle ? { throttledForMs: retryAfterMs ?? retryDelayMs(1, deps.retry, undefined, deps.random) } : {}),
    // A create that may have gone through is looked for at the next attempt, soon: a record found
    // still importing is plainly ours, one found finished minutes later may not be (recordOwnership.ts).
    notBefore: Date.parse(at) + retryDelayMs(Math.max(1, failures), deps.retry, retryAfterMs, deps.random),
  });
}

type Attempt =
  | { kind: "created" | "ours" | "matched"; result: GraphResult<ImportedDeviceIdentity>; doubtOpen: boolean }
  | { kind: "failed"; result: GraphFailureResult; doubtOpen: boolean }
  | { kind: "wait"; untilMs: number; result: { trace?: CallTrace } }
  | { kind: "unclear"; decision: Extract<InDoubtDecision, { kind: "unclear" }>; result: { trace?: CallTrace } };

/**
 * The create, or, when an earlier create of this device may have gone through unseen, first a
 * look for its record by serial number (recordOwnership.ts says which record counts as ours).
 */
async function createOrFind(deps: WorkerDeps, device: StoredDevice, doubtful: boolean, doubtSince: number, invocation: { createSent: boolean }): Promise<Attempt> {
  if (doubtful) {
    const lookup = await deps.graph.findImportedDevicesBySerial(device.tenantId, device.serialNumber);
    if (lookup.kind !== "ok") return { kind: "failed", result: lookup, doubtOpen: true };
    const decision = decideInDoubt({
      records: lookup.body.records,
      complete: lookup.body.complete,
      importId: importIdOf(device),
      now: clock(deps).getTime(),
      doubtSince,
      listGraceMs: deps.listGraceMs,
    });
    const traced = lookup.trace ? { trace: lookup.trace } : {};
    switch (decision.kind) {
      case "ours":
      case "matched":
        return { kind: decision.kind, result: { kind: "ok", status: 200, body: decision.record, ...traced }, doubtOpen: false };
      case "wait":
        return { kind: "wait", untilMs: decision.untilMs, result: traced };
      case "unclear":
        return { kind: "unclear", decision, result: traced };
      case "create":
        break;
    }
  }
  invocation.createSent = true;
  const result = await deps.graph.createImportedDevice(device.tenantId, createBody(device));
  if (result.kind === "ok" && !result.body?.id) {
    // A 2xx without the record's id cannot be followed, and it may have created one: as good as a lost answer.
    return { kind: "failed", result: { kind: "network-error", message: `Graph answered ${result.status} without the record's id`, ...(result.trace ? { trace: result.trace } : {}) }, doubtOpen: true };
  }
  return result.kind === "ok" ? { kind: "created", result, doubtOpen: false } : { kind: "failed", result, doubtOpen: false };
}

interface RetryPlan {
  at: string;
  slotWaitMs: number;
  fields: Record<string, string | number>;
  failures: number;
  /** Set while a record of the device may exist: since when (ISO time). */
  doubtSince?: string;
  trace: TraceFields;
  errorCode: string;
  errorMessage: string;
  /** The earliest the next attempt may go. */
  notBefore: number;
  /** Set for a 429: the whole tenant pauses this long. */
  throttledForMs?: number;
}

/** Records `retrying` and sends the next attempt at a new write slot, so retries stay inside the budget. */
async function scheduleRetry(deps: WorkerDeps, claimed: StoredDevice, message: SubmitMessage, plan: RetryPlan): Promise<StepOutcome> {
  const now = Date.parse(plan.at);
  // Throttling pauses the whole tenant; any other transient failure backs off this device alone.
  const slot =
    plan.throttledForMs !== undefined
      ? await deps.pacing.throttledThenReserve(claimed.tenantId, Math.max(plan.throttledForMs, plan.notBefore - now), now)
      : await deps.pacing.reserve(claimed.tenantId, 1, now, plan.notBefore);
  const slotAt = Math.round(slot.firstSlotAt);
  await deps.store.transitionDevice(claimed, {
    state: "retrying",
    failures: plan.failures,
    inDoubt: plan.doubtSince ? true : undefined,
    inDoubtSince: plan.doubtSince,
    nextAttemptAt: new Date(slotAt).toISOString(),
    errorCode: plan.errorCode,
    errorMessage: plan.errorMessage,
    ...plan.trace,
    updatedAt: plan.at,
  });
  // A hold for the next message's lead is a wait too: together with the slot wait, never over MAX_WAIT_IN_FUNCTION_MS.
  const sendHoldMs = await sendForSlot(deps.queue, { message: nextSubmit(message, slotAt, slot.shiftMs), slotAt }, MAX_WAIT_IN_FUNCTION_MS - plan.slotWaitMs, epochClock(deps));
  deps.log.info("retry scheduled", { ...plan.fields, ...plan.trace, errorCode: plan.errorCode, delayMs: slotAt - now, sendHoldMs });
  return "retry-scheduled";
}

/** Records a final import state if Graph reports one; undefined while the import still runs. */
async function settleFromGraph(
  deps: WorkerDeps,
  device: StoredDevice,
  imported: ImportedDeviceIdentity,
  at: string,
  found: Partial<DeviceFields>,
): Promise<StepOutcome | undefined> {
  const state = imported.state;
  const base = { graphId: imported.id, importStatus: state?.deviceImportStatus, submittedAt: device.submittedAt ?? at, ...found, updatedAt: at };
  if (state?.deviceImportStatus === "complete") {
    await deps.store.transitionDevice(device, {
      ...clearedError,
      ...base,
      state: "imported",
      ...(state.deviceRegistrationId ? { deviceRegistrationId: state.deviceRegistrationId, autopilotDeviceId: state.deviceRegistrationId } : {}),
      ...importedFollow(device, at),
    });
    return "imported";
  }
  // onExisting "update" takes an 806 over: the batch's next poll round schedules the update of
  // the existing Autopilot device, so this attempt only records the record, as for a running import.
  if (state?.deviceImportStatus === "error" && updatesExisting(device, state.deviceErrorCode)) return undefined;
  if (state?.deviceImportStatus === "error") {
    const errorName = importErrorName(state.deviceErrorCode, state.deviceErrorName ?? undefined);
    await deps.store.transitionDevice(device, {
      ...base,
      state: "failed",
      inDoubt: undefined,
      inDoubtSince: undefined,
      nextAttemptAt: undefined,
      errorCode: state.deviceErrorCode ? String(state.deviceErrorCode) : (errorName ?? "ImportError"),
      errorName,
      errorMessage: explainImportError(state.deviceErrorCode, state.deviceErrorName ?? undefined),
    });
    deps.log.warn("import ended in error", {
      batchId: device.partitionKey,
      rowKey: device.rowKey,
      tenantId: device.tenantId,
      errorCode: String(state.deviceErrorCode ?? errorName),
      ...found,
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
    inDoubtSince: undefined,
    updatedAt: at,
  });
}

function nextSubmit(message: SubmitMessage, slotAt: number, shiftAt: number): SubmitMessage {
  const { rescheduled: _rescheduled, ...rest } = message;
  return { ...rest, attempt: message.attempt + 1, slotAt, shiftAt };
}
