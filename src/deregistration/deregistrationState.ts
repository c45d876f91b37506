/**
 * The life of one device of a deregistration batch (a return, a resale, a repair swap), and the
 * decisions that move it. Pure: no I/O, unit-tested without servers (test/deregistration).
 *
 *   queued ──► deregistering ──► deregistered
 *     │            │  ▲    ├───► not_found
 *     │            └──┘    └───► failed
 *     ├────────────────────────► not_found
 *     └────────────────────────► failed
 *
 * `deregistering`: an attempt holds the device (its Autopilot device is being looked up by serial
 * number and deleted), or waits for its next attempt after a transient failure (`nextAttemptAt`).
 * `deregistered`: the tenant's Autopilot device with this serial number was deleted.
 * `not_found`: the tenant has no Autopilot device with this serial number (nothing to delete).
 * `failed`: the delete was refused or could not be made; `error` says why (e.g. the device is
 * still enrolled in Intune, several Autopilot devices carry the serial number, the partner may
 * no longer act on the tenant). The three are final.
 */
import type { GraphFailureResult } from "../graph/graphClient.js";
import { type AutopilotDeviceIdentity } from "../graph/importedDevice.js";
import type { BatchStatus } from "../model/batchStatus.js";
import { asksTenantToWait, classifyFailure } from "../worker/classifyGraphResult.js";
import { sameSerialNumber } from "../model/hashRules.js";

export const DEREGISTRATION_STATES = ["queued", "deregistering", "deregistered", "not_found", "failed"] as const;
export type DeregistrationState = (typeof DEREGISTRATION_STATES)[number];

export const FINAL_DEREGISTRATION_STATES: ReadonlySet<DeregistrationState> = new Set(["deregistered", "not_found", "failed"]);

const NEXT: Record<DeregistrationState, ReadonlySet<DeregistrationState>> = {
  // queued → not_found: the first lookup found nothing to delete.
  queued: new Set(["deregistering", "not_found", "failed"]),
  // deregistering → deregistering: the next attempt after a transient failure, or the same message after a crash.
  deregistering: new Set(["deregistering", "deregistered", "not_found", "failed"]),
  deregistered: new Set(),
  not_found: new Set(),
  failed: new Set(),
};

export function isFinalDeregistration(state: DeregistrationState): boolean {
  return FINAL_DEREGISTRATION_STATES.has(state);
}

export function canMoveDeregistration(from: DeregistrationState, to: DeregistrationState): boolean {
  return NEXT[from].has(to);
}

export type DeregistrationCounts = Record<DeregistrationState, number>;

export function emptyDeregistrationCounts(): DeregistrationCounts {
  return { queued: 0, deregistering: 0, deregistered: 0, not_found: 0, failed: 0 };
}

/**
 * running until every device is final; then succeeded (every device deregistered), failed (none
 * deregistered) or partially_succeeded. A serial number that is not registered is not a
 * deregistration: a batch with one is at best partially_succeeded, so a typo does not pass unseen.
 */
export function deregistrationBatchStatus(deviceCount: number, counts: DeregistrationCounts): Exclude<BatchStatus, "canceled"> {
  const settled = counts.deregistered + counts.not_found + counts.failed;
  if (settled < deviceCount) return "running";
  if (counts.deregistered === deviceCount) return "succeeded";
  return counts.deregistered === 0 ? "failed" : "partially_succeeded";
}

/** Whether a message for attempt `attempt` may act on a device in this state with this many attempts begun (pure). */
export function mayAttempt(device: { state: DeregistrationState; attempts: number }, attempt: number): boolean {
  if (device.state === "queued") return attempt === device.attempts + 1;
  // The next attempt after a transient failure, or the same attempt again after its host died.
  if (device.state === "deregistering") return attempt === device.attempts + 1 || attempt === device.attempts;
  return false;
}

/** A final outcome, or what to do next; every failure carries a reason a person can act on. */
export type DeregistrationDecision =
  | { kind: "delete"; autopilotDeviceId: string }
  | { kind: "deregistered"; autopilotDeviceId: string }
  | { kind: "not_found"; reason: string }
  | { kind: "failed"; errorCode: string; reason: string }
  | { kind: "retry"; retryAfterMs?: number; errorCode: string; reason: string }
  | { kind: "throttled"; retryAfterMs: number };

/**
 * After `contains(serialNumber,'…')` listed the tenant's Autopilot devices: contains() can return
 * several, so only an exact match counts (trimmed, case-insensitive, as Intune compares them).
 * `earlierDelete`: the Autopilot device an earlier run of this attempt recorded before deleting it.
 */
export function decideAfterLookup(
  serialNumber: string,
  listed: readonly AutopilotDeviceIdentity[],
  complete: boolean,
  earlierDelete?: string,
): DeregistrationDecision {
  const same = listed.filter((d) => sameSerialNumber(d.serialNumber, serialNumber));
  // An earlier run of this attempt recorded the Autopilot device it was deleting, then died before
  // recording the outcome: the device now gone is that delete's doing.
  if (same.length === 0 && complete && earlierDelete) return { kind: "deregistered", autopilotDeviceId: earlierDelete };
  if (same.length === 1) return { kind: "delete", autopilotDeviceId: same[0]!.id };
  if (same.length > 1) {
    return {
      kind: "failed",
      errorCode: "SerialNumberNotUnique",
      reason: `${same.length} Autopilot devices in the tenant carry this serial number (${same.map((d) => d.id).join(", ")}); none was deleted. Deregister the right one in Intune by hand.`,
    };
  }
  if (!complete) {
    return {
      kind: "retry",
      errorCode: "LookupIncomplete",
      reason: "the tenant's Autopilot device list could not be read to its end; looking again later",
    };
  }
  return { kind: "not_found", reason: "The tenant has no Autopilot device with this serial number; nothing was deleted." };
}

/** After a Graph call of the attempt (the lookup or the delete) failed. */
export function decideAfterFailure(
  result: GraphFailureResult,
  tenantId: string,
  attempt: number,
  maxAttempts: number,
  step: "lookup" | "delete",
): DeregistrationDecision {
  if (result.kind === "http-error" && asksTenantToWait(result.status, result.retryAfterMs))
    return { kind: "throttled", retryAfterMs: result.retryAfterMs ?? 1_000 };
  if (step === "delete" && result.kind === "http-error" && result.status === 404) {
    return {
      kind: "not_found",
      reason: "The Autopilot device was gone when the delete arrived (deleted meanwhile, by someone else or by an earlier attempt).",
    };
  }
  const failure = classifyFailure(result, tenantId);
  if (failure.kind === "transient") {
    const reason = `${step === "delete" ? "deleting" : "looking up"} the Autopilot device failed: ${failure.errorCode}: ${failure.errorMessage}`;
    if (attempt < maxAttempts)
      return {
        kind: "retry",
        errorCode: failure.errorCode,
        reason,
        ...(failure.retryAfterMs === undefined ? {} : { retryAfterMs: failure.retryAfterMs }),
      };
    return { kind: "failed", errorCode: failure.errorCode, reason: `${reason} (gave up after ${attempt} attempts)` };
  }
  if (step === "delete" && result.kind === "http-error" && (result.status === 400 || result.status === 409)) {
    return {
      kind: "failed",
      errorCode: failure.errorCode,
      reason:
        `Intune refused the delete: ${failure.errorMessage} ` +
        "A device still enrolled in Intune must be removed from Intune (its managed device deleted, or the device wiped or retired) before it can be deregistered; then submit it again.",
    };
  }
  return { kind: "failed", errorCode: failure.errorCode, reason: failure.errorMessage };
}

/** The partner may no longer act on the tenant (its tenants changed after intake): nothing is deleted. */
export function tenantNoLongerAllowed(tenantId: string): DeregistrationDecision {
  return {
    kind: "failed",
    errorCode: "TenantNotAllowed",
    reason: `The partner may no longer act on tenant ${tenantId} (its tenants changed after the batch was accepted); nothing was deleted.`,
  };
}
