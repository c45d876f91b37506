import type { Logger } from "../logging.js";
import { decodeDeviceMessage } from "../storage/deviceMessage.js";
import { DeviceChangedError, type ImportStore } from "../storage/importStore.js";
import { isFinal } from "./deviceState.js";

/**
 * A message lands in the poison queue after the host failed to process it maxDequeueCount
 * times (storage kept failing, or a bug). The device must not stay in limbo: it ends as failed,
 * with a reason an operator can act on (the batch can be retried once the cause is fixed).
 */
export async function processPoisonMessage(
  deps: { store: ImportStore; log: Logger; now?: () => Date },
  payload: unknown,
  dequeueCount: number | undefined,
): Promise<"failed" | "already-final" | "missing" | "unreadable"> {
  let message;
  try {
    message = decodeDeviceMessage(payload);
  } catch {
    deps.log.error("unreadable poison message dropped");
    return "unreadable";
  }
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
        updatedAt: (deps.now?.() ?? new Date()).toISOString(),
      });
      deps.log.error("device failed via poison queue", { batchId: message.batchId, rowKey: message.rowKey, tenantId: device.tenantId, state: device.state });
      return "failed";
    } catch (error) {
      if (!(error instanceof DeviceChangedError)) throw error;
    }
  }
  throw new Error(`device ${message.batchId}/${message.rowKey} kept changing while being failed from the poison queue`);
}
