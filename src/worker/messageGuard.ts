import type { DeviceMessage } from "../storage/deviceMessage.js";
import type { DeviceFields } from "../storage/importEntities.js";
import { isFinal } from "../model/deviceState.js";

/**
 * Whether a delivered create-attempt message still has work to do on its device. Delivery is at
 * least once and a crash can leave two copies of a message, so every message is checked against
 * the row:
 *
 * - `fresh`: the row has not reached this attempt yet; act on it.
 * - `resume`: this very message (same queue message id) took the device and its host died before
 *   it finished; finish the attempt.
 * - `stale`: the device is past this attempt, or another copy holds it; drop the message.
 */
export type MessageVerdict = "fresh" | "resume" | "stale";

export function judgeMessage(
  device: Pick<DeviceFields, "state" | "attempts" | "claimedBy">,
  message: Pick<DeviceMessage, "attempt">,
  deliveryId: string,
): MessageVerdict {
  if (isFinal(device.state)) return "stale";
  if ((device.state === "queued" || device.state === "retrying") && device.attempts < message.attempt) return "fresh";
  if (device.attempts === message.attempt && device.claimedBy === deliveryId) return "resume";
  return "stale";
}
