import type { CallTrace, GraphFailureResult, GraphResult } from "../graph/graphClient.js";
import { explainImportError, importErrorName } from "../graph/importErrors.js";
import type { ImportedDeviceIdentity } from "../graph/importedDevice.js";
import type { SubmitMessage } from "../storage/deviceMessage.js";
import type { DeviceFields } from "../storage/importEntities.js";
import { retryDelayMs, type RetryPolicy } from "../model/backoff.js";
import { dueAt, MAX_RESCHEDULES, MAX_WAIT_IN_FUNCTION_MS } from "../model/pacing.js";
import { asksTenantToWait, classifyFailure, type GraphFailure } from "./classifyGraphResult.js";
import { mayHaveCreated } from "./createAttempt.js";
import { judgeMessage } from "./messageGuard.js";
import { unclearMessage, type InDoubtDecision } from "./recordOwnership.js";
import { updatesExisting } from "./updateExisting.js";

/*
 * The decisions of one device's create attempt (processDeviceMessage.ts), apart from the reads and
 * writes they are made between, so every branch is tested without storage, Graph or a clock.
 */

/** What a submit message does on arrival, from its device's row, before anything is written. */
export type ArrivalDecision =
  /** The device is final, past this attempt, or held by another copy of the message (messageGuard.ts). */
  | { kind: "drop" }
  /** This message set the device to retry and its host died before the next attempt's message went. */
  | { kind: "resendRetry"; slotAt?: number }
  /** This message had Graph's record before its host died: the batch's poll rounds follow it. */
  | { kind: "submitted" }
  /** Attempt the create; a message with a slot first meets it (decideSlot). */
  | { kind: "attempt"; resuming: boolean; slotAt?: number };

export function decideArrival(
  device: Pick<DeviceFields, "state" | "attempts" | "claimedBy" | "nextAttemptAt" | "graphId">,
  message: Pick<SubmitMessage, "attempt" | "slotAt">,
  deliveryId: string,
): ArrivalDecision {
  const verdict = judgeMessage(device, message, deliveryId);
  if (verdict === "stale") return { kind: "drop" };
  const resuming = verdict === "resume";
  if (resuming && device.state === "retrying")
    return { kind: "resendRetry", ...(device.nextAttemptAt ? { slotAt: Date.parse(device.nextAttemptAt) } : {}) };
  if (resuming && (device.state === "submitted" || device.graphId)) return { kind: "submitted" };
  // A resumed attempt went at its slot already: it finishes now.
  if (!resuming && message.slotAt !== undefined) return { kind: "attempt", resuming, slotAt: message.slotAt };
  return { kind: "attempt", resuming };
}

/** When a message with a write slot goes, now that the tenant's pause shift is known (a chunk's leader too, processChunk.ts). */
export type SlotDecision =
  /** Due within the wait a function may do: the rest is waited out after the claim, so the write leaves at `due`. */
  | { kind: "go"; due: number }
  /** Further off (early, or a pause moved the slot): back to the queue, due at `due`. */
  | { kind: "defer"; due: number }
  /**
   * Too late to go, and storage was away since the slot was due: the tenant stood still, so its
   * schedule pauses from the missed slot until now (pacing.ts, stalled) and the slot is judged
   * again against the shift that follows (decideSlotAfterStall). Late for any other reason (a busy
   * instance, a slow poll), a write takes a new slot instead: moving everybody's slots for one
   * slow moment would send every outstanding message back to the queue, again and again.
   */
  | { kind: "stall"; lateMs: number }
  /**
   * Too late without an outage, or still too late once the stall is recorded (it came back out of
   * order, inside a recorded pause):
   * a write that leaves late lands among the punctual ones of a later window, and crowded windows
   * are what make Graph throttle. A new slot instead, MAX_RESCHEDULES times at most.
   */
  | { kind: "reschedule"; lateMs: number; rescheduled: number };

export interface SlotFacts {
  now: number;
  /** The tenant's pause shift now (pacing.ts): a pause since the slot was handed out moves it back by its length. */
  shiftMs: number;
  lateToleranceMs: number;
  /**
   * Whether a write due at `due` is late because of a storage outage: storage was away for this
   * instance after the slot was due and came back at most OUTAGE_RECOVERY_MS ago (pacing.ts,
   * lateForOutage; storageReachability.ts). Unknown counts as no.
   */
  lateForOutage?: (due: number) => boolean;
  /** How much lateness past the tolerance a write just after an outage may have and still go (pacing.ts, catchUpMs). */
  catchUpMs?: number;
}

export function decideSlot(slot: SlotOfMessage, facts: SlotFacts): SlotDecision {
  const due = dueAt(slot.slotAt, slot.shiftAt ?? facts.shiftMs, facts.shiftMs);
  const lateMs = facts.now - due;
  const outage = facts.lateForOutage?.(due) ?? false;
  if (due - facts.now <= MAX_WAIT_IN_FUNCTION_MS && lateMs > facts.lateToleranceMs + (facts.catchUpMs ?? 0) && outage)
    return { kind: "stall", lateMs };
  return decideSlotAfterStall(slot, facts);
}

/** A message's slot as it carries it. */
export type SlotOfMessage = { slotAt: number; shiftAt?: number; rescheduled?: number };
/** Every decision but a stall: what is left once the tenant's row is up to date with this slot's lateness. */
export type SlotDecisionAfterStall = Exclude<SlotDecision, { kind: "stall" }>;

/** decideSlot once any stall is recorded (`shiftMs` fresh from the tenant's row): a message still late takes a new slot. */
export function decideSlotAfterStall(slot: SlotOfMessage, facts: SlotFacts): SlotDecisionAfterStall {
  const due = dueAt(slot.slotAt, slot.shiftAt ?? facts.shiftMs, facts.shiftMs);
  if (due - facts.now > MAX_WAIT_IN_FUNCTION_MS) return { kind: "defer", due };
  const lateMs = facts.now - due;
  const rescheduled = slot.rescheduled ?? 0;
  if (lateMs > facts.lateToleranceMs + (facts.catchUpMs ?? 0) && rescheduled < MAX_RESCHEDULES)
    return { kind: "reschedule", lateMs, rescheduled: rescheduled + 1 };
  return { kind: "go", due };
}

/**
 * Whether an earlier create of this device may have gone through unseen, so its record is looked
 * for before creating: the last attempt's answer was lost, or this message was taken before (an
 * earlier delivery, or earlier in this invocation) and may have sent one. A first delivery
 * resuming after its own lost claim answer sent nothing.
 */
export function doubtOf(
  device: Pick<DeviceFields, "inDoubt" | "inDoubtSince" | "updatedAt">,
  resumed: { resuming: boolean; dequeueCount: number; createSent: boolean; now: string },
): { doubtful: boolean; doubtSince: string } {
  const resumedInDoubt = resumed.resuming && (resumed.dequeueCount > 1 || resumed.createSent);
  return {
    doubtful: device.inDoubt === true || resumedInDoubt,
    // A redelivered message's doubt dates from now, not from its claim: the delivery before may
    // have sent the create any time since (its storage calls retrying through an outage), or be
    // sending it still (a host that gave up on a function cannot stop it). Counted from the claim,
    // the list's grace ran out before the create could show (fault 2c: a chunk sent twice).
    doubtSince: device.inDoubtSince ?? (resumedInDoubt ? resumed.now : device.updatedAt),
  };
}

/**
 * What the create (or the look for an earlier one's record) came back with. `doubtOpen`: a doubt
 * this attempt could not resolve, so a record of the device may still exist.
 */
export type Attempt =
  | { kind: "created" | "ours" | "matched"; result: Extract<GraphResult<ImportedDeviceIdentity>, { kind: "ok" }> }
  | { kind: "failed"; result: GraphFailureResult; doubtOpen: boolean }
  | { kind: "wait"; untilMs: number; result: { trace?: CallTrace } }
  | { kind: "unclear"; decision: Extract<InDoubtDecision, { kind: "unclear" }>; result: { trace?: CallTrace } };

/** A next attempt at a new write slot; the step reserves the slot, records `retrying` and sends the message. */
export interface PlannedRetry {
  failures: number;
  /** Set while a record of the device may exist: since when (ISO time). */
  doubtSince?: string;
  errorCode: string;
  errorMessage: string;
  /** The earliest the next attempt may go (epoch ms). */
  notBefore: number;
  /** Set for a 429: the whole tenant pauses this long. */
  throttledForMs?: number;
}

/** What Graph's record says of the import once the create or the lookup found it. */
export type Settlement =
  | { kind: "imported"; deviceRegistrationId?: string }
  /** Still importing (or an 806 that onExisting "update" takes over): store the id, the poll rounds follow it. */
  | { kind: "importing" }
  | { kind: "importError"; errorCode: string; errorName?: string; errorMessage: string };

export type AnswerDecision =
  | { kind: "settle"; record: ImportedDeviceIdentity; foundBy: "created" | "ours" | "matched"; status: number; settlement: Settlement }
  /** "unclear": a lost create whose record cannot be told apart; "tenant": the tenant refuses the app, so the batch's waiting devices fail too. */
  | { kind: "fail"; reason: "unclear" | "rejected" | "tenant"; errorCode: string; errorMessage: string; status?: number }
  /** The doubtful attempt's record may not show in the lists yet: look again once it would. */
  | { kind: "retry"; retry: PlannedRetry }
  /** Worth trying again; decideRetry says whether and when, once the step knows if the batch was canceled. */
  | { kind: "transient"; failure: Extract<GraphFailure, { kind: "transient" }>; status?: number; inDoubtSince?: string };

export interface AnswerFacts {
  /** The claimed device. */
  device: Pick<DeviceFields, "tenantId" | "onExisting" | "failures">;
  /** When the answer came (ISO time). */
  at: string;
  /** When this attempt's doubt began (doubtOf). */
  doubtSince: string;
  consentUrlFor: (tenantId: string) => string | undefined;
}

export function decideAnswer(attempt: Attempt, facts: AnswerFacts): AnswerDecision {
  if (attempt.kind === "wait") {
    return {
      kind: "retry",
      retry: {
        failures: facts.device.failures ?? 0,
        notBefore: attempt.untilMs,
        doubtSince: facts.doubtSince,
        errorCode: "ImportLookupPending",
        errorMessage: "An earlier create may have reached Intune; looking for its record again once the tenant's list can show it.",
      },
    };
  }
  if (attempt.kind === "unclear")
    return { kind: "fail", reason: "unclear", errorCode: "ImportOwnershipUnclear", errorMessage: unclearMessage(attempt.decision) };
  if (attempt.kind !== "failed") {
    const { body: record, status } = attempt.result;
    return { kind: "settle", record, foundBy: attempt.kind, status, settlement: settlementOf(record, facts.device) };
  }
  const { result } = attempt;
  const failure = classifyFailure(result, facts.device.tenantId, facts.consentUrlFor(facts.device.tenantId));
  const status = result.kind === "http-error" ? { status: result.status } : {};
  if (failure.kind === "tenant")
    return { kind: "fail", reason: "tenant", errorCode: failure.errorCode, errorMessage: failure.errorMessage, ...status };
  if (failure.kind === "permanent")
    return { kind: "fail", reason: "rejected", errorCode: failure.errorCode, errorMessage: failure.errorMessage, ...status };
  // Whether a record of this device may exist now: its own create's answer was lost (doubt from
  // now), or the doubt this attempt could not resolve (doubt from as before).
  const inDoubtSince = mayHaveCreated(result) ? facts.at : attempt.doubtOpen ? facts.doubtSince : undefined;
  return { kind: "transient", failure, ...status, ...(inDoubtSince !== undefined ? { inDoubtSince } : {}) };
}

function settlementOf(record: ImportedDeviceIdentity, device: Pick<DeviceFields, "onExisting">): Settlement {
  const state = record.state;
  if (state?.deviceImportStatus === "complete")
    return { kind: "imported", ...(state.deviceRegistrationId ? { deviceRegistrationId: state.deviceRegistrationId } : {}) };
  // onExisting "update" takes an 806 over: the batch's next poll round schedules the update of the
  // existing Autopilot device, so this attempt only records the record, as for a running import.
  if (state?.deviceImportStatus === "error" && !updatesExisting(device, state.deviceErrorCode)) {
    const errorName = importErrorName(state.deviceErrorCode, state.deviceErrorName ?? undefined);
    return {
      kind: "importError",
      errorCode: state.deviceErrorCode ? String(state.deviceErrorCode) : (errorName ?? "ImportError"),
      errorName,
      errorMessage: explainImportError(state.deviceErrorCode, state.deviceErrorName ?? undefined),
    };
  }
  return { kind: "importing" };
}

export type RetryDecision =
  /** The batch was canceled while this attempt was in flight, and nothing was created: the device ends here. */
  | { kind: "cancel" }
  | { kind: "fail"; errorCode: "RetriesExhausted"; errorMessage: string; failures: number }
  | { kind: "retry"; retry: PlannedRetry };

export interface RetryFacts {
  /** Whether the batch was canceled; only asked when nothing can have been created (no inDoubtSince). */
  canceled: boolean;
  /** The transient failures before this one. */
  failures: number;
  retry: RetryPolicy;
  at: string;
  random?: () => number;
}

/**
 * A transient failure: tried again in the tenant's schedule, later. A 429, or a 503 with
 * Retry-After (asksTenantToWait), pauses the whole tenant (for its Retry-After, or a backoff step)
 * and costs no failure; any other backs this device off alone (retryDelayMs, never sooner than
 * Retry-After) and counts one, up to retry.maxAttempts.
 */
export function decideRetry(transient: Extract<AnswerDecision, { kind: "transient" }>, facts: RetryFacts): RetryDecision {
  const { failure, status, inDoubtSince } = transient;
  if (inDoubtSince === undefined && facts.canceled) return { kind: "cancel" };
  const isThrottle = asksTenantToWait(status, failure.retryAfterMs);
  const failures = facts.failures + (isThrottle ? 0 : 1);
  if (failures >= facts.retry.maxAttempts) {
    return {
      kind: "fail",
      errorCode: "RetriesExhausted",
      errorMessage: `retries exhausted after ${failures} transient failures; last error: ${failure.errorCode}: ${failure.errorMessage}`,
      failures,
    };
  }
  const retryAfterMs = failure.retryAfterMs;
  // In this order: a seeded `random` gives the pause its draw before the backoff.
  const throttledForMs = isThrottle ? (retryAfterMs ?? retryDelayMs(1, facts.retry, undefined, facts.random)) : undefined;
  return {
    kind: "retry",
    retry: {
      failures,
      ...(inDoubtSince !== undefined ? { doubtSince: inDoubtSince } : {}),
      errorCode: failure.errorCode,
      errorMessage: failure.errorMessage,
      ...(throttledForMs !== undefined ? { throttledForMs } : {}),
      // A create that may have gone through is looked for at the next attempt, soon: a record found
      // still importing is plainly ours, one found finished minutes later may not be (recordOwnership.ts).
      notBefore: Date.parse(facts.at) + retryDelayMs(Math.max(1, failures), facts.retry, retryAfterMs, facts.random),
    },
  };
}
