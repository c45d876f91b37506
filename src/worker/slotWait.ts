import type { DeviceMessageOf } from "../storage/deviceMessage.js";
import type { DeviceMessageSender } from "../storage/deviceQueue.js";
import type { TenantPacing } from "../storage/tenantPacing.js";
import { dueAt, MAX_WAIT_IN_FUNCTION_MS, queueDelayForSlot } from "../model/pacing.js";

/**
 * A write that is not a create (an update of an existing Autopilot device, a deregistration's
 * delete) waits for its slot of the tenant's schedule as a create does: a message that came early,
 * or whose slot a throttling pause moved later since it was sent, goes back to the queue until
 * then ("deferred"); one due within MAX_WAIT_IN_FUNCTION_MS waits here, then goes ("ready").
 */
export async function waitForSlot(
  deps: { pacing: Pick<TenantPacing, "current">; queue: DeviceMessageSender; now?: () => number },
  message: DeviceMessageOf<"updateExisting" | "deregister">,
  tenantId: string,
): Promise<"ready" | "deferred"> {
  if (message.slotAt === undefined) return "ready";
  const now = () => deps.now?.() ?? Date.now();
  const { shiftMs } = await deps.pacing.current(tenantId, now());
  const due = dueAt(message.slotAt, message.shiftAt ?? shiftMs, shiftMs);
  const wait = due - now();
  if (wait > MAX_WAIT_IN_FUNCTION_MS) {
    await deps.queue.send({ ...message, slotAt: due, shiftAt: shiftMs }, queueDelayForSlot(due, now()));
    return "deferred";
  }
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  return "ready";
}
