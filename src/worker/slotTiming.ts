import type { LogFields } from "../telemetry/logFields.js";
import { catchUpMs, lateForOutage, OUTAGE_RECOVERY_MS } from "../model/pacing.js";
import type { WorkerDeps } from "./createAttempt.js";
import { decideSlot, decideSlotAfterStall, type SlotDecisionAfterStall, type SlotOfMessage } from "./submitDecisions.js";

/**
 * Where a message with a write slot stands (a lone device's or a chunk leader's): judged against
 * the tenant's schedule as this instance last read it, and, when it came too late because storage
 * was away, once more after the tenant's row records the stall (pacing.ts, stalled). The first
 * message back from an outage moves the schedule by the outage's length; the ones after it then
 * come on time, in their order.
 */
export async function slotTiming(
  deps: Pick<WorkerDeps, "pacing" | "log" | "reachability">,
  tenantId: string,
  slot: SlotOfMessage,
  now: number,
  fields: LogFields,
  /** How old a copy of the tenant's schedule may be for this decision (TenantPacing.current; its default if absent). */
  scheduleMaxAgeMs?: number,
): Promise<{ timing: SlotDecisionAfterStall; shiftMs: number }> {
  const { shiftMs } = await deps.pacing.current(tenantId, now, scheduleMaxAgeMs);
  const reachability = deps.reachability;
  const facts = {
    now,
    shiftMs,
    lateToleranceMs: deps.pacing.lateToleranceMs,
    catchUpMs: catchUpMs(now, reachability?.lastEndedSince(now - OUTAGE_RECOVERY_MS)),
  };
  const first = decideSlot(slot, {
    ...facts,
    ...(reachability ? { lateForOutage: (due: number) => lateForOutage(due, now, reachability.backAfterAwayDuring(due, now)) } : {}),
  });
  if (first.kind !== "stall") return { timing: first, shiftMs };
  const due = now - first.lateMs;
  const fresh = await deps.pacing.stall(
    tenantId,
    slot,
    now,
    reachability?.awaySinceDuring(due, now),
    reachability?.backAfterAwayDuring(due, now),
  );
  deps.log.info("late for its write slot: the tenant's schedule paused until now", {
    ...fields,
    delayMs: Math.round(first.lateMs),
    shiftAddedMs: Math.round(fresh - shiftMs),
  });
  return { timing: decideSlotAfterStall(slot, { ...facts, shiftMs: fresh }), shiftMs: fresh };
}
