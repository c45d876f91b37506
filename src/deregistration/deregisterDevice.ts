import { mayImportInto } from "../auth/caller.js";
import type { CallTrace, GraphClient } from "../graph/graphClient.js";
import type { AutopilotDeviceIdentity } from "../graph/importedDevice.js";
import type { DeregistrationDeviceFields, DeregistrationStore, StoredDeregistrationDevice } from "./deregistrationStore.js";
import type { DeviceMessageOf } from "../storage/deviceMessage.js";
import type { DeviceMessageSender } from "../storage/deviceQueue.js";
import { DeviceChangedError } from "../storage/importStore.js";
import type { PartnerStore } from "../auth/partnerStore.js";
import type { TenantPacing } from "../storage/tenantPacing.js";
import { retryDelayMs, type RetryPolicy } from "../model/backoff.js";
import { queueDelayForSlot } from "../model/pacing.js";
import { waitForSlot } from "../worker/slotWait.js";
import { traceFields } from "../worker/traceFields.js";
import { finishIfSettled, type CompletionDeps } from "./deregistrationCompletion.js";
import {
  decideAfterFailure,
  decideAfterLookup,
  isFinalDeregistration,
  mayAttempt,
  tenantNoLongerAllowed,
  type DeregistrationDecision,
} from "./deregistrationState.js";
import type { LogFields } from "../telemetry/logFields.js";

export interface DeregisterDeps extends CompletionDeps {
  deregistrations: DeregistrationStore;
  /** The partner's tenants now: a delete is destructive, so it is checked again, not only at intake. */
  partners: Pick<PartnerStore, "getPartner">;
  queue: DeviceMessageSender;
  pacing: Pick<TenantPacing, "current" | "reserve" | "throttledThenReserve">;
  graph: Pick<GraphClient, "walkAutopilotDevices" | "deleteAutopilotDevice">;
  retry: RetryPolicy;
  now?: () => number;
  random?: () => number;
}

export type DeregisterOutcome = "stale" | "deferred" | "deregistered" | "not_found" | "failed" | "retry-scheduled";

/**
 * One attempt at one device of a deregistration batch, at its write slot of the tenant's
 * schedule (a delete is a write): the partner may still act on the tenant; the tenant's Autopilot
 * device with this serial number is looked up (`contains(serialNumber,'…')`, then an exact
 * match); the one found is recorded on the row (the claim: ETag-conditional, so of two copies of
 * the message only one goes on) and deleted; the outcome is recorded. A crash between the delete
 * and the outcome is resolved by the next run: the device recorded as being deleted and no longer
 * listed was deleted by it. Two deletes of one device cannot both succeed: Graph answers the
 * second 404, which is recorded as not found only when no earlier delete was recorded.
 */
export async function deregisterDevice(deps: DeregisterDeps, message: DeviceMessageOf<"deregister">): Promise<DeregisterOutcome> {
  const device = await deps.deregistrations.readDevice(message.batchId, message.rowKey);
  if (!device) return "stale";
  if (isFinalDeregistration(device.state)) {
    // A copy of the message that settled it, perhaps after its host died before the batch was finished.
    await finishIfSettled(deps, message.batchId);
    return "stale";
  }
  if (!mayAttempt(device, message.attempt)) return "stale";
  const batch = await deps.deregistrations.readBatch(message.batchId);
  if (!batch || batch.erasingAt) return "stale";
  const fields: LogFields = {
    batchId: message.batchId,
    rowKey: message.rowKey,
    tenantId: device.tenantId,
    partnerId: batch.partnerId,
    attempt: message.attempt,
  };

  const partner = await deps.partners.getPartner(batch.partnerId);
  if (!partner || !mayImportInto(partner, device.tenantId))
    return settle(deps, device, message, tenantNoLongerAllowed(device.tenantId), undefined, fields);

  if ((await waitForSlot(deps, message, device.tenantId)) === "deferred") return "deferred";

  const listed: AutopilotDeviceIdentity[] = [];
  const walk = await deps.graph.walkAutopilotDevices(device.tenantId, device.serialNumber, (page) => void listed.push(...page));
  if (walk.kind !== "ok")
    return settle(
      deps,
      device,
      message,
      decideAfterFailure(walk, device.tenantId, message.attempt, deps.retry.maxAttempts, "lookup"),
      walk.trace,
      fields,
    );
  const earlier = device.state === "deregistering" && device.attempts === message.attempt ? device.autopilotDeviceId : undefined;
  const found = decideAfterLookup(device.serialNumber, listed, walk.complete, earlier);
  if (found.kind !== "delete")
    return settle(deps, device, message, bounded(found, message.attempt, deps.retry.maxAttempts), walk.trace, fields);

  // The claim: the device to delete, recorded before the delete.
  let claimed: StoredDeregistrationDevice;
  try {
    claimed = await deps.deregistrations.moveDevice(device, {
      state: "deregistering",
      attempts: message.attempt,
      autopilotDeviceId: found.autopilotDeviceId,
      errorCode: undefined,
      errorMessage: undefined,
      nextAttemptAt: undefined,
      updatedAt: new Date(now(deps)).toISOString(),
    });
  } catch (error) {
    if (error instanceof DeviceChangedError) return "stale";
    throw error;
  }
  const deleted = await deps.graph.deleteAutopilotDevice(device.tenantId, found.autopilotDeviceId);
  if (deleted.kind === "ok")
    return settle(deps, claimed, message, { kind: "deregistered", autopilotDeviceId: found.autopilotDeviceId }, deleted.trace, fields);
  return settle(
    deps,
    claimed,
    message,
    decideAfterFailure(deleted, device.tenantId, message.attempt, deps.retry.maxAttempts, "delete"),
    deleted.trace,
    fields,
  );
}

/** A lookup that keeps coming back incomplete fails once the attempts are spent (pure). */
function bounded(decision: DeregistrationDecision, attempt: number, maxAttempts: number): DeregistrationDecision {
  if (decision.kind === "retry" && attempt >= maxAttempts)
    return { kind: "failed", errorCode: decision.errorCode, reason: `${decision.reason} (gave up after ${attempt} attempts)` };
  return decision;
}

async function settle(
  deps: DeregisterDeps,
  device: StoredDeregistrationDevice,
  message: DeviceMessageOf<"deregister">,
  decision: DeregistrationDecision,
  trace: CallTrace | undefined,
  fields: LogFields,
): Promise<DeregisterOutcome> {
  const at = new Date(now(deps)).toISOString();
  const traced = traceFields(trace);
  switch (decision.kind) {
    case "throttled": {
      // The tenant pauses; this attempt goes again after the pause (a 429 is not counted as a failure).
      const slot = await deps.pacing.throttledThenReserve(device.tenantId, decision.retryAfterMs, now(deps));
      const slotAt = Math.round(slot.firstSlotAt);
      await deps.queue.send({ ...message, slotAt, shiftAt: slot.shiftMs }, queueDelayForSlot(slotAt, now(deps)));
      deps.log.info("deregistration throttled; attempt sent again after the pause", { ...fields, delayMs: slotAt - now(deps) });
      return "retry-scheduled";
    }
    case "retry": {
      const attempt = message.attempt + 1;
      const notBefore = now(deps) + retryDelayMs(message.attempt, deps.retry, decision.retryAfterMs, deps.random);
      const moved = await move(deps, device, {
        state: "deregistering",
        attempts: message.attempt,
        errorCode: decision.errorCode,
        errorMessage: decision.reason,
        nextAttemptAt: new Date(notBefore).toISOString(),
        ...traced,
        updatedAt: at,
      });
      if (!moved) return "stale";
      const slots = await deps.pacing.reserve(device.tenantId, 1, now(deps), notBefore);
      const slotAt = Math.round(slots.firstSlotAt);
      await deps.queue.send(
        { v: 1, kind: "deregister", batchId: message.batchId, rowKey: message.rowKey, attempt, slotAt, shiftAt: slots.shiftMs },
        queueDelayForSlot(slotAt, now(deps)),
      );
      deps.log.info("deregistration attempt failed; tried again later", {
        ...fields,
        errorCode: decision.errorCode,
        delayMs: notBefore - now(deps),
      });
      return "retry-scheduled";
    }
    case "delete":
      throw new Error("a delete is decided after the lookup, not settled");
    case "deregistered":
    case "not_found":
    case "failed": {
      const changes: Partial<DeregistrationDeviceFields> & { state: "deregistered" | "not_found" | "failed" } =
        decision.kind === "deregistered"
          ? {
              state: "deregistered",
              autopilotDeviceId: decision.autopilotDeviceId,
              deregisteredAt: at,
              errorCode: undefined,
              errorMessage: undefined,
            }
          : decision.kind === "not_found"
            ? { state: "not_found", errorCode: "NotFound", errorMessage: decision.reason }
            : { state: "failed", errorCode: decision.errorCode, errorMessage: decision.reason };
      const moved = await move(deps, device, {
        ...changes,
        attempts: Math.max(device.attempts, message.attempt),
        nextAttemptAt: undefined,
        ...traced,
        updatedAt: at,
      });
      if (!moved) return "stale";
      if (decision.kind === "failed") deps.log.warn("device not deregistered", { ...fields, errorCode: decision.errorCode });
      else deps.log.info(decision.kind === "deregistered" ? "device deregistered" : "no Autopilot device to deregister", fields);
      await finishIfSettled(deps, message.batchId);
      return decision.kind;
    }
  }
}

async function move(
  deps: DeregisterDeps,
  device: StoredDeregistrationDevice,
  changes: Partial<DeregistrationDeviceFields> & { state: DeregistrationDeviceFields["state"] },
): Promise<boolean> {
  try {
    await deps.deregistrations.moveDevice(device, changes);
    return true;
  } catch (error) {
    if (error instanceof DeviceChangedError) return false;
    throw error;
  }
}

function now(deps: Pick<DeregisterDeps, "now">): number {
  return deps.now?.() ?? Date.now();
}

/**
 * A deregistration message that kept failing (poison queue): the device fails with a reason and
 * can be submitted again; the batch finishes if it was the last. A device whose delete was
 * recorded as under way says so: it may be deleted already.
 */
export async function failPoisonedDeregistration(
  deps: Pick<DeregisterDeps, keyof CompletionDeps | "deregistrations">,
  message: DeviceMessageOf<"deregister">,
  dequeueCount: number | undefined,
): Promise<"failed" | "already-final" | "missing"> {
  for (let tries = 0; tries < 5; tries++) {
    const device = await deps.deregistrations.readDevice(message.batchId, message.rowKey);
    if (!device) return "missing";
    if (isFinalDeregistration(device.state)) return "already-final";
    const underWay =
      device.state === "deregistering" && device.autopilotDeviceId
        ? ` Its Autopilot device ${device.autopilotDeviceId} may already be deleted: check it in Intune.`
        : "";
    try {
      await deps.deregistrations.moveDevice(device, {
        state: "failed",
        errorCode: "ProcessingFailed",
        errorMessage: `processing failed repeatedly (${dequeueCount ?? "several"} deliveries of its message); the device was set aside in the poison queue and can be submitted again.${underWay}`,
        nextAttemptAt: undefined,
        updatedAt: new Date().toISOString(),
      });
    } catch (error) {
      if (error instanceof DeviceChangedError) continue;
      throw error;
    }
    deps.log.error("deregistration failed via poison queue", {
      batchId: message.batchId,
      rowKey: message.rowKey,
      tenantId: device.tenantId,
    });
    await finishIfSettled(deps, message.batchId);
    return "failed";
  }
  throw new Error(`device ${message.batchId}/${message.rowKey} kept changing while being failed from the poison queue`);
}
