import type { QueueDelivery } from "../storage/queueText.js";
import { type SubmitMessage, chunkRole } from "../storage/deviceMessage.js";
import type { DeviceFields, StoredDevice } from "../storage/importEntities.js";
import { DeviceChangedError } from "../storage/importStore.js";
import { MAX_WAIT_IN_FUNCTION_MS } from "../model/pacing.js";
import { sendForSlot } from "../storage/slotSends.js";
import { countSubmitted } from "../telemetry/metrics.js";
import { judgeMessage } from "./messageGuard.js";
import { decideInDoubt } from "./recordOwnership.js";
import { failWaitingDevices } from "./failWaitingDevices.js";
import { traceFields, type TraceFields } from "./traceFields.js";
import { importedFollow } from "./profileFollow.js";
import { followerAlone, processChunk } from "./processChunk.js";
import { clearedError, clock, createBody, epochClock, importIdOf, type StepOutcome, type WorkerDeps } from "./createAttempt.js";
import {
  decideAnswer,
  decideArrival,
  decideRetry,
  doubtOf,
  type AnswerDecision,
  type ArrivalDecision,
  type Attempt,
  type PlannedRetry,
} from "./submitDecisions.js";
import { slotTiming } from "./slotTiming.js";

/**
 * One create attempt of one device, at its write slot. Never waits for a retry in-process: a
 * later attempt is a new message made visible later. The import that follows a 201 is followed
 * by the batch's poll rounds (pollBatch.ts). Throws only when storage itself fails, so the host
 * redelivers the message. What to do at each turn is decided in submitDecisions.ts; this does the
 * reads and writes between.
 */
export async function processDeviceMessage(deps: WorkerDeps, message: SubmitMessage, delivery: QueueDelivery): Promise<StepOutcome> {
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
    const arrival = decideArrival(device, message, delivery.id);
    if (arrival.kind === "drop") return "stale";
    try {
      return await submitStep(deps, device, message, delivery, arrival, invocation);
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

/** What every log line of one attempt carries. */
type StepFields = Record<string, string | number>;

async function submitStep(
  deps: WorkerDeps,
  device: StoredDevice,
  message: SubmitMessage,
  delivery: QueueDelivery,
  arrival: Exclude<ArrivalDecision, { kind: "drop" }>,
  invocation: { createSent: boolean },
): Promise<StepOutcome> {
  const now = clock(deps);
  if (arrival.kind === "resendRetry") {
    const slotAt = arrival.slotAt ?? now.getTime();
    const { shiftMs } = await deps.pacing.current(device.tenantId, now.getTime());
    await sendForSlot(deps.queue, { message: nextSubmit(message, slotAt, shiftMs), slotAt }, MAX_WAIT_IN_FUNCTION_MS, epochClock(deps));
    return "retry-scheduled";
  }
  if (arrival.kind === "submitted") return "submitted";

  let due: number | undefined;
  if (arrival.slotAt !== undefined) {
    const met = await meetSlot(deps, device, message, arrival.slotAt, now.getTime());
    if (met.kind !== "go") return met.outcome;
    due = met.due;
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
  const fields = {
    batchId: message.batchId,
    rowKey: message.rowKey,
    tenantId: claimed.tenantId,
    attempt: message.attempt,
    slotWaitMs,
    ...(lateMs !== undefined ? { lateMs } : {}),
  };
  const { doubtful, doubtSince } = doubtOf(device, {
    resuming: arrival.resuming,
    dequeueCount: delivery.dequeueCount,
    createSent: invocation.createSent,
    now: clock(deps).toISOString(),
  });
  const attempt = await createOrFind(deps, claimed, doubtful, Date.parse(doubtSince), invocation);
  const at = clock(deps).toISOString();
  const trace = traceFields(attempt.result.trace);
  const answer = decideAnswer(attempt, {
    device: claimed,
    at,
    doubtSince,
    consentUrlFor: (tenantId) => deps.graph.consentUrlFor(tenantId),
  });
  const step = { deps, claimed, message, at, trace, fields, slotWaitMs };
  switch (answer.kind) {
    case "settle":
      return settle(step, answer);
    case "fail":
      return failAttempt(step, answer);
    case "retry":
      // Lists lag creates: a record the doubtful attempt made may not show yet. Look again once it would.
      return scheduleRetry(step, answer.retry, fields);
    case "transient":
      return retryOrEnd(step, answer);
  }
}

/** The message has a write slot: go at it, or back to the queue for it, or a new one when too late for it. */
async function meetSlot(
  deps: WorkerDeps,
  device: StoredDevice,
  message: SubmitMessage,
  slotAt: number,
  now: number,
): Promise<{ kind: "go"; due: number } | { kind: "sent"; outcome: "deferred" | "rescheduled" }> {
  const fields = { batchId: message.batchId, rowKey: message.rowKey, tenantId: device.tenantId, attempt: message.attempt };
  const { timing, shiftMs } = await slotTiming(deps, device.tenantId, { ...message, slotAt }, now, fields);
  switch (timing.kind) {
    case "go":
      return timing;
    case "defer": {
      const sendHoldMs = await sendForSlot(
        deps.queue,
        { message: { ...message, slotAt: timing.due, shiftAt: shiftMs }, slotAt: timing.due },
        MAX_WAIT_IN_FUNCTION_MS,
        epochClock(deps),
      );
      deps.log.info("early for its write slot; back to the queue", { ...fields, delayMs: Math.round(timing.due - now), sendHoldMs });
      return { kind: "sent", outcome: "deferred" };
    }
    case "reschedule": {
      // Before anything is written, so the write never lands among the punctual ones of a later window.
      const slot = await deps.pacing.reserve(device.tenantId, 1, now);
      const newSlotAt = Math.round(slot.firstSlotAt);
      const next = { ...message, slotAt: newSlotAt, shiftAt: slot.shiftMs, rescheduled: timing.rescheduled };
      const sendHoldMs = await sendForSlot(deps.queue, { message: next, slotAt: newSlotAt }, MAX_WAIT_IN_FUNCTION_MS, epochClock(deps));
      deps.log.info("late for its write slot; given a new one", { ...fields, delayMs: Math.round(timing.lateMs), sendHoldMs });
      return { kind: "sent", outcome: "rescheduled" };
    }
  }
}

/** What acting on Graph's answer needs of the attempt so far. */
interface Step {
  deps: WorkerDeps;
  claimed: StoredDevice;
  message: SubmitMessage;
  at: string;
  trace: TraceFields;
  fields: StepFields;
  slotWaitMs: number;
}

/** Graph has the record: record it as imported or failed if its import is over, else its id for the poll rounds. */
async function settle(
  { deps, claimed, at, trace, fields }: Step,
  answer: Extract<AnswerDecision, { kind: "settle" }>,
): Promise<StepOutcome> {
  const { record, settlement } = answer;
  if (answer.foundBy === "created") countSubmitted();
  const found = { ...trace, ...(answer.foundBy === "matched" ? { recordMatch: "serialNumber" as const } : {}) };
  const base = {
    graphId: record.id,
    importStatus: record.state?.deviceImportStatus,
    submittedAt: claimed.submittedAt ?? at,
    ...found,
    updatedAt: at,
  };
  switch (settlement.kind) {
    case "imported":
      await deps.store.transitionDevice(claimed, {
        ...clearedError,
        ...base,
        state: "imported",
        ...(settlement.deviceRegistrationId
          ? { deviceRegistrationId: settlement.deviceRegistrationId, autopilotDeviceId: settlement.deviceRegistrationId }
          : {}),
        ...importedFollow(claimed, at),
      });
      return "imported";
    case "importError":
      await deps.store.transitionDevice(claimed, {
        ...base,
        state: "failed",
        inDoubt: undefined,
        inDoubtSince: undefined,
        nextAttemptAt: undefined,
        errorCode: settlement.errorCode,
        errorName: settlement.errorName,
        errorMessage: settlement.errorMessage,
      });
      deps.log.warn("import ended in error", {
        batchId: claimed.partitionKey,
        rowKey: claimed.rowKey,
        tenantId: claimed.tenantId,
        errorCode: String(record.state?.deviceErrorCode ?? settlement.errorName),
        ...found,
      });
      return "failed";
    case "importing":
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
      deps.log.info("device submitted", { ...fields, ...trace, status: answer.status, recordFoundBy: answer.foundBy });
      return "submitted";
  }
}

async function failAttempt(
  { deps, claimed, message, at, trace, fields }: Step,
  answer: Extract<AnswerDecision, { kind: "fail" }>,
): Promise<StepOutcome> {
  await fail(deps, claimed, answer.errorCode, answer.errorMessage, at, trace);
  const status = answer.status ? { status: answer.status } : {};
  switch (answer.reason) {
    case "unclear":
      deps.log.warn("lost create: cannot tell which record is ours", { ...fields, ...trace, errorCode: answer.errorCode });
      break;
    case "tenant": {
      const others = await failWaitingDevices(deps.store, message.batchId, answer, at);
      deps.log.error("tenant refuses the app; failing the batch's waiting devices", {
        ...fields,
        ...trace,
        ...status,
        errorCode: answer.errorCode,
        deviceCount: others + 1,
      });
      break;
    }
    case "rejected":
      deps.log.warn("Graph rejected device", { ...fields, ...trace, ...status, errorCode: answer.errorCode });
      break;
  }
  return "failed";
}

/** A transient failure: the device ends if its batch was canceled meanwhile or its retries are spent, else goes again later. */
async function retryOrEnd(step: Step, answer: Extract<AnswerDecision, { kind: "transient" }>): Promise<StepOutcome> {
  const { deps, claimed, message, at, trace, fields } = step;
  // Nothing can have been created (or inDoubtSince would say so): a canceled batch ends the device here.
  const canceled = answer.inDoubtSince === undefined && Boolean((await deps.store.readBatch(message.batchId))?.canceledAt);
  const next = decideRetry(answer, { canceled, failures: claimed.failures ?? 0, retry: deps.retry, at, random: deps.random });
  switch (next.kind) {
    case "cancel":
      await deps.store.transitionDevice(claimed, { state: "canceled", ...clearedError, updatedAt: at });
      deps.log.info("device canceled after a transient failure", { ...fields, errorCode: answer.failure.errorCode });
      return "canceled";
    case "fail":
      await fail(deps, claimed, next.errorCode, next.errorMessage, at, { failures: next.failures, ...trace });
      deps.log.warn("retries exhausted", { ...fields, ...trace, errorCode: answer.failure.errorCode });
      return "failed";
    case "retry":
      return scheduleRetry(step, next.retry, { ...fields, ...(answer.status ? { status: answer.status } : {}) });
  }
}

/** Records `retrying` and sends the next attempt at a new write slot, so retries stay inside the budget. */
async function scheduleRetry(
  { deps, claimed, message, at, trace, slotWaitMs }: Step,
  plan: PlannedRetry,
  fields: StepFields,
): Promise<StepOutcome> {
  const now = Date.parse(at);
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
    ...trace,
    updatedAt: at,
  });
  // A hold for the next message's lead is a wait too: together with the slot wait, never over MAX_WAIT_IN_FUNCTION_MS.
  const sendHoldMs = await sendForSlot(
    deps.queue,
    { message: nextSubmit(message, slotAt, slot.shiftMs), slotAt },
    MAX_WAIT_IN_FUNCTION_MS - slotWaitMs,
    epochClock(deps),
  );
  deps.log.info("retry scheduled", { ...fields, ...trace, errorCode: plan.errorCode, delayMs: slotAt - now, sendHoldMs });
  return "retry-scheduled";
}

/**
 * The create, or, when an earlier create of this device may have gone through unseen, first a
 * look for its record by serial number (recordOwnership.ts says which record counts as ours).
 */
async function createOrFind(
  deps: WorkerDeps,
  device: StoredDevice,
  doubtful: boolean,
  doubtSince: number,
  invocation: { createSent: boolean },
): Promise<Attempt> {
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
        return { kind: decision.kind, result: { kind: "ok", status: 200, body: decision.record, ...traced } };
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
    return {
      kind: "failed",
      result: {
        kind: "network-error",
        message: `Graph answered ${result.status} without the record's id`,
        ...(result.trace ? { trace: result.trace } : {}),
      },
      doubtOpen: true,
    };
  }
  return result.kind === "ok" ? { kind: "created", result } : { kind: "failed", result, doubtOpen: false };
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
