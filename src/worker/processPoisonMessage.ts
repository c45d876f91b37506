import type { Logger } from "../telemetry/logging.js";
import { decodeDeviceMessage, type DeviceMessage, type DeviceMessageOf, type SubmitMessage, chunkRole } from "../storage/deviceMessage.js";
import type { DeviceMessageSender } from "../storage/deviceQueue.js";
import { DeviceChangedError, type ImportStore } from "../storage/importStore.js";
import { isFinal } from "../model/deviceState.js";

export interface PoisonDeps {
  store: ImportStore;
  log: Logger;
  /** Where a poisoned poll round's successor goes. */
  queue: DeviceMessageSender;
  /** How long the successor waits: the poll chain's longest interval, so a failing round is not hammered. */
  pollRestartDelayMs: number;
  /** A deregistration's message poisoned: its device fails (src/deregistration/deregisterDevice.ts). */
  failDeregistration?: (
    message: DeviceMessageOf<"deregister">,
    dequeueCount: number | undefined,
  ) => Promise<"failed" | "already-final" | "missing">;
  now?: () => Date;
}

export type PoisonOutcome = "failed" | "already-final" | "missing" | "unreadable" | "poll-restarted" | "dropped";

/**
 * A message lands in the poison queue after the host failed to process it maxDequeueCount
 * times (storage kept failing, or a bug). Nothing may stay in limbo because of it:
 * - a device's create attempt: the device ends as failed, with a reason an operator can act on
 *   (the batch can be retried once the cause is fixed);
 * - a batch's poll round: the chain that follows the batch's imports would end with it, and the
 *   batch would stay running forever, so a next round is sent (later);
 * - a sync or a delete: optional housekeeping, logged and dropped (the next batch asks for a
 *   sync again; a record left behind is harmless).
 */
export async function processPoisonMessage(deps: PoisonDeps, payload: unknown, dequeueCount: number | undefined): Promise<PoisonOutcome> {
  let message: DeviceMessage;
  try {
    message = decodeDeviceMessage(payload);
  } catch {
    deps.log.error("unreadable poison message dropped");
    return "unreadable";
  }
  switch (message.kind) {
    case "submit": {
      const outcome = await failDevice(deps, message, dequeueCount);
      if (chunkRole(message) === "leader") await failChunk(deps, message, dequeueCount);
      return outcome;
    }
    // An update of an existing Autopilot device (onExisting "update") that keeps failing: the device fails, retryable.
    case "updateExisting":
      return failDevice(deps, message, dequeueCount);
    case "deregister":
      if (deps.failDeregistration) return deps.failDeregistration(message, dequeueCount);
      break;
    case "pollBatch":
      return restartPolling(deps, message);
  }
  deps.log.error("poisoned housekeeping message dropped", {
    batchId: message.batchId,
    rowKey: message.rowKey,
    attempt: message.attempt,
    reason: message.kind,
  });
  return "dropped";
}

async function restartPolling(deps: PoisonDeps, message: DeviceMessageOf<"pollBatch">): Promise<PoisonOutcome> {
  const batch = await deps.store.readBatch(message.batchId);
  // Gone, or being erased: no chain to restart.
  if (!batch || batch.erasingAt) return "missing";
  // One past the last round taken: fresh for the chain's guard, and any surviving copy of an
  // older round stays stale.
  const attempt = Math.max(batch.pollAttempt ?? 0, message.attempt) + 1;
  await deps.queue.send({ v: 1, kind: "pollBatch", batchId: message.batchId, rowKey: message.rowKey, attempt }, deps.pollRestartDelayMs);
  deps.log.error("poll round poisoned; the batch's next round is scheduled", {
    batchId: message.batchId,
    tenantId: batch.tenantId,
    attempt,
    delayMs: deps.pollRestartDelayMs,
  });
  return "poll-restarted";
}

/**
 * A chunk's leader poisoned: the devices it had claimed for this attempt and not yet recorded
 * would wait for ever (their own messages find them claimed and are dropped), so they fail with
 * it. Devices it never claimed are left to their own messages, which do them alone.
 */
async function failChunk(deps: PoisonDeps, message: SubmitMessage, dequeueCount: number | undefined): Promise<void> {
  const chunk = message.chunk!;
  const rows = await deps.store.readDeviceRange(message.batchId, chunk.first, chunk.size);
  const held = rows.filter(
    (d) => d.rowKey !== message.rowKey && d.state === "submitting" && d.attempts === message.attempt && !d.graphId && !d.findRecordBySerial,
  );
  if (held.length === 0) return;
  const updatedAt = (deps.now?.() ?? new Date()).toISOString();
  const errorMessage = `processing failed repeatedly (${dequeueCount ?? "several"} deliveries of the message of this device's chunk); the device was set aside in the poison queue and can be retried`;
  const moved = await deps.store.moveDevices(
    held.map((device) => ({
      device,
      changes: {
        state: "failed" as const,
        errorCode: "ProcessingFailed",
        errorName: undefined,
        errorMessage,
        nextAttemptAt: undefined,
        updatedAt,
      },
    })),
  );
  deps.log.error("chunk failed via poison queue", { batchId: message.batchId, rowKey: message.rowKey, deviceCount: moved.length });
}

async function failDevice(
  deps: PoisonDeps,
  message: DeviceMessageOf<"submit" | "updateExisting">,
  dequeueCount: number | undefined,
): Promise<PoisonOutcome> {
  for (let tries = 0; tries < 5; tries++) {
    const device = await deps.store.readDevice(message.batchId, message.rowKey);
    if (!device) return "missing";
    if (isFinal(device.state)) return "already-final";
    try {
      await deps.store.transitionDevice(device, {
        state: "failed",
        errorCode: "ProcessingFailed",
        errorName: undefined,
        errorMessage: `processing failed repeatedly (${dequeueCount ?? "several"} deliveries of its ${message.kind} message); the device was set aside in the poison queue and can be retried`,
        nextAttemptAt: undefined,
        existing: undefined,
        existingAttempt: undefined,
        updatedAt: (deps.now?.() ?? new Date()).toISOString(),
      });
      deps.log.error("device failed via poison queue", {
        batchId: message.batchId,
        rowKey: message.rowKey,
        tenantId: device.tenantId,
        state: device.state,
      });
      return "failed";
    } catch (error) {
      if (!(error instanceof DeviceChangedError)) throw error;
    }
  }
  throw new Error(`device ${message.batchId}/${message.rowKey} kept changing while being failed from the poison queue`);
}
