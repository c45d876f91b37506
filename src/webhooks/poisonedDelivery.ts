import type { Logger } from "../telemetry/logging.js";
import { decodeDeliveryMessage } from "./deliveryMessage.js";
import type { NotificationStore } from "./notificationStore.js";

/**
 * A delivery message that failed maxDequeueCount times (storage kept failing, or a bug) lands in
 * webhook-deliveries-poison. Its event must not stay `pending` for ever: it ends as failed.
 */
export async function failPoisonedDelivery(
  deps: { notifications: Pick<NotificationStore, "read" | "write">; log: Logger },
  payload: unknown,
): Promise<"failed" | "stale" | "unreadable"> {
  let message;
  try {
    message = decodeDeliveryMessage(payload);
  } catch {
    deps.log.error("unreadable webhook poison message dropped");
    return "unreadable";
  }
  for (let tries = 0; tries < 8; tries++) {
    const header = await deps.notifications.read(message.batchId);
    const record = header?.notification;
    if (!header || !record || record.eventId !== message.eventId || record.state !== "pending") return "stale";
    const { inFlight: _i, nextAttemptAt: _n, ...rest } = record;
    if (
      await deps.notifications.write(header, {
        ...rest,
        state: "failed",
        reason: `processing of delivery attempt ${message.attempt} failed repeatedly`,
      })
    ) {
      deps.log.error("webhook event failed via poison queue", { batchId: message.batchId, attempt: message.attempt });
      return "failed";
    }
  }
  throw new Error(`batch ${message.batchId} webhook row kept changing while its poisoned webhook was failed`);
}
