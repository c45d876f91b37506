import type { GraphClient, GraphResult } from "../graph/graphClient.js";
import { explainImportError } from "../graph/importErrors.js";
import { ALREADY_ASSIGNED } from "../graph/importErrorCodes.js";
import { type AutopilotDeviceIdentity, type AutopilotDeviceProperties } from "../graph/importedDevice.js";
import type { Logger } from "../telemetry/logging.js";
import type { DeviceMessageOf } from "../storage/deviceMessage.js";
import type { DeviceMessageSender } from "../storage/deviceQueue.js";
import { withNote, type DeviceFields, type StoredDevice } from "../storage/importEntities.js";
import { DeviceChangedError, type ImportStore } from "../storage/importStore.js";
import type { TenantPacing } from "../storage/tenantPacing.js";
import { retryDelayMs, type RetryPolicy } from "../model/backoff.js";
import { asksTenantToWait, classifyFailure } from "./classifyGraphResult.js";
import { queueDelayForSlot } from "../model/pacing.js";
import { waitForSlot } from "./slotWait.js";
import { traceFields } from "./traceFields.js";
import type { LogFields } from "../telemetry/logFields.js";
import { sameSerialNumber } from "../model/hashRules.js";

/**
 * onExisting "update": a device whose import failed 806 (already registered in this tenant) gets
 * its group tag and assigned user applied to the existing Autopilot device, found by serial
 * number (`contains(serialNumber,'…')`, then an exact match), with updateDeviceProperties, and
 * ends `imported` with a note. While this runs the device stays `submitted` with
 * `existing: "updating"`. 808 (another tenant) never comes here.
 *
 * updateDeviceProperties is a write, so it takes a slot of the tenant's schedule like a create.
 * Setting the same properties twice is harmless, so two copies of a message may both call it;
 * only one records the outcome (ETag-conditional), the other's write is refused and dropped.
 */

/** A poll round sends the message again for a device still `updating` this long after (its message was lost). */
export const EXISTING_UPDATE_STALE_MS = 15 * 60_000;

export interface ExistingDeps {
  store: ImportStore;
  queue: DeviceMessageSender;
  pacing: Pick<TenantPacing, "current" | "reserve" | "throttledThenReserve">;
  graph: GraphClient;
  retry: RetryPolicy;
  log: Logger;
  now?: () => number;
  random?: () => number;
}

/** Whether a settled import error is one onExisting update takes over (pure). */
export function updatesExisting(device: Pick<DeviceFields, "onExisting">, errorCode: number | undefined): boolean {
  return device.onExisting === "update" && errorCode === ALREADY_ASSIGNED;
}

/** What updateDeviceProperties is to set: the device's group tag and assigned user, the ones it has (pure). */
export function propertiesToApply(
  device: Pick<DeviceFields, "groupTag" | "assignedUserPrincipalName">,
): AutopilotDeviceProperties | undefined {
  const properties: AutopilotDeviceProperties = {
    ...(device.groupTag ? { groupTag: device.groupTag } : {}),
    ...(device.assignedUserPrincipalName ? { userPrincipalName: device.assignedUserPrincipalName } : {}),
  };
  return Object.keys(properties).length > 0 ? properties : undefined;
}

export type ExistingLookup = { kind: "one"; device: AutopilotDeviceIdentity } | { kind: "none" } | { kind: "several"; ids: string[] };

/** The tenant's Autopilot device with this serial number among the listed ones (pure). */
export function pickExisting(serialNumber: string, listed: readonly AutopilotDeviceIdentity[]): ExistingLookup {
  const same = listed.filter((d) => sameSerialNumber(d.serialNumber, serialNumber));
  if (same.length === 1) return { kind: "one", device: same[0]! };
  return same.length === 0 ? { kind: "none" } : { kind: "several", ids: same.map((d) => d.id) };
}

/** The message for attempt n of a device's update, at its write slot. */
export function existingMessage(
  batchId: string,
  rowKey: string,
  attempt: number,
  slotAt: number,
  shiftAt: number,
): DeviceMessageOf<"updateExisting"> {
  return { v: 1, kind: "updateExisting", batchId, rowKey, attempt, slotAt, shiftAt };
}

/** Sends attempt n of these devices' updates, one write slot each. */
export async function scheduleExistingUpdates(
  deps: { queue: DeviceMessageSender; pacing: Pick<TenantPacing, "reserve"> },
  batchId: string,
  tenantId: string,
  devices: readonly { rowKey: string; attempt: number }[],
  now: number,
  notBefore?: number,
): Promise<void> {
  if (devices.length === 0) return;
  const slots = await deps.pacing.reserve(tenantId, devices.length, now, notBefore);
  for (let i = 0; i < devices.length; i++) {
    const slotAt = Math.round(slots.firstSlotAt + i * slots.intervalMs);
    await deps.queue.send(
      existingMessage(batchId, devices[i]!.rowKey, devices[i]!.attempt, slotAt, slots.shiftMs),
      queueDelayForSlot(slotAt, now),
    );
  }
}

export type ExistingOutcome = "stale" | "deferred" | "imported" | "failed" | "retry-scheduled";

export async function updateExisting(deps: ExistingDeps, message: DeviceMessageOf<"updateExisting">): Promise<ExistingOutcome> {
  const device = await deps.store.readDevice(message.batchId, message.rowKey);
  if (!device || device.state !== "submitted" || device.existing !== "updating" || (device.existingAttempt ?? 1) !== message.attempt)
    return "stale";
  const fields = { batchId: message.batchId, rowKey: message.rowKey, tenantId: device.tenantId, attempt: message.attempt };

  if ((await waitForSlot(deps, message, device.tenantId)) === "deferred") return "deferred";

  const listed: AutopilotDeviceIdentity[] = [];
  const walk = await deps.graph.walkAutopilotDevices(device.tenantId, device.serialNumber, (page) => listed.push(...page));
  if (walk.kind !== "ok") return retryOrFail(deps, device, message, walk, fields);
  const found = pickExisting(device.serialNumber, listed);
  if (found.kind === "several") {
    return finish(
      deps,
      device,
      failed(
        device,
        `The device is already registered in this tenant, and ${found.ids.length} Autopilot devices carry its serial number (${found.ids.join(", ")}); none was changed.`,
        walk.trace,
      ),
      "failed",
      fields,
    );
  }
  if (found.kind === "none") {
    // The 806 says it is registered: a list that does not show it yet may lag. Look again later, a bounded number of times.
    if (message.attempt < deps.retry.maxAttempts) return scheduleNext(deps, device, message, undefined, fields);
    return finish(
      deps,
      device,
      failed(
        device,
        "The device is already registered in this tenant, but no Autopilot device with its serial number was found to update.",
        walk.trace,
      ),
      "failed",
      fields,
    );
  }

  const properties = propertiesToApply(device);
  const at = new Date(now(deps)).toISOString();
  if (!properties) {
    const note = {
      code: "AlreadyRegistered" as const,
      message:
        "The device was already registered in this tenant; the batch gives it no group tag or user to apply, so nothing was changed.",
    };
    return finish(deps, device, imported(device, found.device, note, at, walk.trace), "imported", fields);
  }
  const result = await deps.graph.updateAutopilotDeviceProperties(device.tenantId, found.device.id, properties);
  if (result.kind !== "ok") return retryOrFail(deps, device, message, result, fields);
  const applied = [properties.groupTag !== undefined ? "group tag" : "", properties.userPrincipalName !== undefined ? "assigned user" : ""]
    .filter(Boolean)
    .join(" and ");
  const note = {
    code: "AlreadyRegisteredUpdated" as const,
    message: `The device was already registered in this tenant (806); the batch's ${applied} ${applied.includes(" and ") ? "were" : "was"} applied to its existing Autopilot device.`,
  };
  return finish(deps, device, imported(device, found.device, note, at, result.trace), "imported", fields);
}

function imported(
  device: StoredDevice,
  found: AutopilotDeviceIdentity,
  note: { code: "AlreadyRegistered" | "AlreadyRegisteredUpdated"; message: string },
  at: string,
  trace?: GraphResult<unknown>["trace"],
): Partial<DeviceFields> & { state: "imported" } {
  return {
    state: "imported",
    existing: undefined,
    existingAttempt: undefined,
    errorCode: undefined,
    errorName: undefined,
    errorMessage: undefined,
    nextAttemptAt: undefined,
    autopilotDeviceId: found.id,
    importedAt: at,
    // The interim "AlreadyRegistered" (being updated) gives way to the outcome.
    notes: withNote(device, note, ["AlreadyRegistered"]),
    ...(device.followUntil === "profileAssigned" ? { profileState: "waiting" as const } : {}),
    ...traceFields(trace),
    updatedAt: at,
  };
}

function failed(device: StoredDevice, why: string, trace?: GraphResult<unknown>["trace"]): Partial<DeviceFields> & { state: "failed" } {
  return {
    state: "failed",
    existing: undefined,
    existingAttempt: undefined,
    nextAttemptAt: undefined,
    errorCode: String(ALREADY_ASSIGNED),
    errorName: "ZtdDeviceAlreadyAssigned",
    errorMessage: `${explainImportError(ALREADY_ASSIGNED, undefined)} onExisting update: ${why}`,
    notes: undefined,
    ...traceFields(trace),
    updatedAt: new Date().toISOString(),
  };
}

async function retryOrFail(
  deps: ExistingDeps,
  device: StoredDevice,
  message: DeviceMessageOf<"updateExisting">,
  result: Exclude<GraphResult<unknown>, { kind: "ok" }>,
  fields: LogFields,
): Promise<ExistingOutcome> {
  const failure = classifyFailure(result, device.tenantId);
  if (result.kind === "http-error" && asksTenantToWait(result.status, failure.kind === "transient" ? failure.retryAfterMs : undefined)) {
    // Throttled (or Intune unavailable for a stated while): the tenant pauses, and this attempt goes again after the pause (it is not counted as a failure).
    const slot = await deps.pacing.throttledThenReserve(
      device.tenantId,
      failure.kind === "transient" ? (failure.retryAfterMs ?? 1_000) : 1_000,
      now(deps),
    );
    const slotAt = Math.round(slot.firstSlotAt);
    await deps.queue.send(
      existingMessage(message.batchId, message.rowKey, message.attempt, slotAt, slot.shiftMs),
      queueDelayForSlot(slotAt, now(deps)),
    );
    return "retry-scheduled";
  }
  // A device gone between the lookup and the update is looked up again.
  const transient = failure.kind === "transient" || (result.kind === "http-error" && result.status === 404);
  if (transient && message.attempt < deps.retry.maxAttempts)
    return scheduleNext(deps, device, message, failure.kind === "transient" ? failure.retryAfterMs : undefined, fields);
  return finish(
    deps,
    device,
    failed(device, `updating the existing Autopilot device failed: ${failure.errorCode}: ${failure.errorMessage}`, result.trace),
    "failed",
    fields,
  );
}

async function scheduleNext(
  deps: ExistingDeps,
  device: StoredDevice,
  message: DeviceMessageOf<"updateExisting">,
  retryAfterMs: number | undefined,
  fields: LogFields,
): Promise<ExistingOutcome> {
  const attempt = message.attempt + 1;
  const at = now(deps);
  const notBefore = at + retryDelayMs(message.attempt, deps.retry, retryAfterMs, deps.random);
  try {
    await deps.store.transitionDevice(device, {
      state: "submitted",
      existingAttempt: attempt,
      nextAttemptAt: new Date(notBefore).toISOString(),
      updatedAt: new Date(at).toISOString(),
    });
  } catch (error) {
    if (error instanceof DeviceChangedError) return "stale";
    throw error;
  }
  await scheduleExistingUpdates(deps, message.batchId, device.tenantId, [{ rowKey: message.rowKey, attempt }], at, notBefore);
  deps.log.info("existing device update scheduled again", { ...fields, delayMs: notBefore - at });
  return "retry-scheduled";
}

async function finish(
  deps: ExistingDeps,
  device: StoredDevice,
  changes: Partial<DeviceFields> & { state: "imported" | "failed" },
  outcome: "imported" | "failed",
  fields: LogFields,
): Promise<ExistingOutcome> {
  try {
    await deps.store.transitionDevice(device, changes);
  } catch (error) {
    if (error instanceof DeviceChangedError) return "stale";
    throw error;
  }
  if (outcome === "failed") deps.log.warn("existing device not updated", { ...fields, errorCode: changes.errorCode });
  else deps.log.info("existing device updated", { ...fields, autopilotDeviceId: changes.autopilotDeviceId });
  return outcome;
}

function now(deps: Pick<ExistingDeps, "now">): number {
  return deps.now?.() ?? Date.now();
}
