import { RECHECK_LEAD_MS, recheckSlot } from "../model/pacing.js";
import { clock, type WorkerDeps } from "./createAttempt.js";

export type SlotWaited = { kind: "go"; waitedMs: number } | { kind: "moved"; due: number; shiftMs: number; waitedMs: number };

/**
 * Waits in the function for a chunk's write slot (`due`, by the schedule at `shiftMs`), reading
 * the tenant's schedule once more RECHECK_LEAD_MS before it: a pause recorded meanwhile (a 429
 * another write met) moves the slot (recheckSlot). The read races the slot: when storage is slow
 * or away, the write goes at its time on what it knew, as it would without the second look, and
 * an outage is met where it always was (the claim's outcome is recorded once storage answers).
 */
export async function waitOutSlot(
  deps: Pick<WorkerDeps, "pacing" | "now">,
  tenantId: string,
  slot: { due: number; shiftMs: number },
): Promise<SlotWaited> {
  const now = () => clock(deps).getTime();
  const started = now();
  const waited = () => Math.max(0, Math.round(now() - started));
  let { due, shiftMs } = slot;
  for (;;) {
    const ahead = due - now();
    if (ahead > RECHECK_LEAD_MS) await sleep(ahead - RECHECK_LEAD_MS);
    const read = deps.pacing.current(tenantId, now(), 0).catch(() => undefined);
    const fresh = await Promise.race([read, sleep(due - now()).then(() => undefined)]);
    const decision = fresh ? recheckSlot(due, shiftMs, fresh.shiftMs, now()) : ({ kind: "go" } as const);
    if (decision.kind === "moved") return { kind: "moved", due: decision.due, shiftMs: fresh!.shiftMs, waitedMs: waited() };
    if (decision.kind === "go") {
      await sleep(due - now());
      return { kind: "go", waitedMs: waited() };
    }
    // Moved a little: wait for the new time, and look once more before it.
    due = decision.due;
    shiftMs = fresh!.shiftMs;
  }
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}
