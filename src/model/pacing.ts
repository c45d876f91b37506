/**
 * Pacing of Graph writes per tenant, as a schedule of slots (the generic cell rate algorithm):
 * each create gets a slot at least one interval after the previous one, so the whole fleet stays
 * just under Intune's budget without anyone counting requests in a window. The state is one
 * small record per tenant, shared through Table storage by every instance.
 *
 * A 429 pauses the tenant until its Retry-After and widens the interval (another app may be
 * spending the tenant's shared budget); the interval drifts back to the budget's own as time
 * passes without throttling, so recovering costs no writes. A pause also shifts every slot
 * already handed out by its length (`shiftMs`), so devices scheduled into the pause move back
 * in line instead of each meeting its own 429.
 */
export interface PacingState {
  /** The earliest time the next slot may be given. */
  nextSlotAt: number;
  /** The widened interval in force at `throttledAt` (equal to the base one when never throttled). */
  intervalMs: number;
  throttledAt: number;
  pausedUntil: number;
  /** Sum of all pauses so far: a slot handed out when this was s is due `shiftMs - s` later. */
  shiftMs: number;
}

export interface PacingBudget {
  /** The interval between writes the budget allows, with headroom: window ÷ (limit × headroom). */
  baseIntervalMs: number;
  /** How fast a widened interval relaxes back to the base one (e-folding time): RECOVERY_WINDOWS budget windows. */
  recoveryMs: number;
  /** How late after its slot a write may still leave (lateToleranceMs). */
  lateToleranceMs: number;
  /**
   * How long an instance trusts its copy of the tenant's schedule before reading it again: half a
   * budget window (10 s of Intune's 20 s). In windows, not seconds, so that on the bench's shorter
   * window the instances that did not meet a 429 learn of its pause as soon, in proportion.
   */
  cacheMs: number;
}

/**
 * A widened interval relaxes over this many budget windows: long enough that a neighbour app
 * that keeps spending the tenant's budget throttles us again before we are back at full rate,
 * short enough that one stray 429 costs a few seconds, not minutes. In windows, not seconds,
 * so that a shorter window (the bench's time scale) relaxes in proportion.
 */
export const RECOVERY_WINDOWS = 3;
/** A 429 widens the interval by this factor, up to MAX_WIDENING times the base. */
export const WIDEN_FACTOR = 1.25;
export const MAX_WIDENING = 4;

export function initialPacing(budget: PacingBudget): PacingState {
  return { nextSlotAt: 0, intervalMs: budget.baseIntervalMs, throttledAt: 0, pausedUntil: 0, shiftMs: 0 };
}

export function baseIntervalMs(windowMs: number, writesPerWindow: number, headroom: number): number {
  return windowMs / (writesPerWindow * headroom);
}

export function pacingBudget(windowMs: number, writesPerWindow: number, headroom: number): PacingBudget {
  return {
    baseIntervalMs: baseIntervalMs(windowMs, writesPerWindow, headroom),
    recoveryMs: RECOVERY_WINDOWS * windowMs,
    cacheMs: windowMs / 2,
    lateToleranceMs: lateToleranceMs(windowMs, writesPerWindow, headroom),
  };
}

/**
 * Writes leave at their slot or later, never earlier. If none is more than L late, a window of W
 * holds at most (W + L) ÷ interval + 1 of them, so the headroom leaves room for lateness up to
 * W × ((limit − 1) ÷ (limit × headroom) − 1): 412 ms of a 20 s window at 97 %. Half of that is
 * the tolerance; the other half is for Graph's own jitter. A write any later takes a new slot:
 * going anyway is how late writes crowd the punctual ones into one window and set off a 429
 * that pauses the whole tenant.
 */
export function lateToleranceMs(windowMs: number, writesPerWindow: number, headroom: number): number {
  return Math.max(0, windowMs * ((writesPerWindow - 1) / (writesPerWindow * headroom) - 1)) / 2;
}

/** A device late for its slot this many times goes anyway, so a host that is always late still imports. */
export const MAX_RESCHEDULES = 3;

/** The interval in force at `now`: the widened one, relaxing exponentially to the base. */
export function currentInterval(state: PacingState, budget: PacingBudget, now: number): number {
  const extra = state.intervalMs - budget.baseIntervalMs;
  if (extra <= 0) return budget.baseIntervalMs;
  return budget.baseIntervalMs + extra * Math.exp(-Math.max(0, now - state.throttledAt) / budget.recoveryMs);
}

export interface Reservation {
  /** Slot k (0-based) is due at firstSlotAt + k × intervalMs. */
  firstSlotAt: number;
  intervalMs: number;
  shiftMs: number;
  next: PacingState;
}

/** Hands out `count` consecutive slots, none before `notBefore`. */
export function reserveSlots(state: PacingState, budget: PacingBudget, now: number, count: number, notBefore = now): Reservation {
  const intervalMs = currentInterval(state, budget, now);
  const firstSlotAt = Math.max(now, notBefore, state.nextSlotAt, state.pausedUntil);
  return {
    firstSlotAt,
    intervalMs,
    shiftMs: state.shiftMs,
    next: { ...state, nextSlotAt: firstSlotAt + count * intervalMs },
  };
}

/**
 * A 429 with Retry-After: pause the tenant, push every outstanding slot back by the pause, and
 * widen the interval. The writes in flight when Graph starts refusing all meet the same 429;
 * only the first one of a pause widens, or one overshoot would count as many and throttle the
 * tenant to a quarter of its budget.
 */
export function throttled(state: PacingState, budget: PacingBudget, now: number, retryAfterMs: number): PacingState {
  const pauseEnd = now + retryAfterMs;
  const added = Math.max(0, pauseEnd - Math.max(now, state.pausedUntil));
  const newEpisode = now >= state.pausedUntil;
  const widened = Math.min(currentInterval(state, budget, now) * WIDEN_FACTOR, budget.baseIntervalMs * MAX_WIDENING);
  return {
    nextSlotAt: Math.max(state.nextSlotAt + added, pauseEnd),
    intervalMs: newEpisode ? widened : state.intervalMs,
    throttledAt: newEpisode ? now : state.throttledAt,
    pausedUntil: Math.max(state.pausedUntil, pauseEnd),
    shiftMs: state.shiftMs + added,
  };
}

/**
 * A write found late for its slot (storage or the instance was away, so nothing could go) is a
 * pause that nobody announced: the tenant stood still from the slot it missed until now. It is
 * recorded as a 429's pause is, so every slot already handed out moves back by the part of that
 * time no recorded pause covers, once, and the writes go on in their order; without it every late
 * write would take a new slot at the end, and each outage would reshuffle the whole schedule.
 * Nothing widens the interval: nobody else spent the budget.
 *
 * `slot` is judged against this state's shift, not a cached one, so instances that find the same
 * outage count it once. A slot due before the end of a recorded pause adds nothing, however late
 * it comes: the pause stood for it, and the tenant has been writing since. Such a message came
 * back out of order, or was held by a function the outage failed until its visibility ran out
 * (30 s); counting its lateness again moved every slot back by it (the storm bench: the schedule
 * moved 8.6 s for a 3 s outage). It takes a new slot instead (decideSlot).
 */
export function stalled(
  state: PacingState,
  budget: PacingBudget,
  slot: { slotAt: number; shiftAt?: number },
  now: number,
  /**
   * When the outage that kept the write began, if known: the tenant stood still from then, not
   * from an earlier slot. A write already late when storage went away (waiting in a busy function,
   * or for its message to come) moved every slot by its whole lateness: 5.4 s for a 3 s outage in
   * the storm bench.
   */
  awayFrom?: number,
  /**
   * When storage answered again, if known: the pause ends there. The moments after it, while the
   * instances bring the waiting messages back in (a storage client sleeping out its retry delay, a
   * queue poll), are caught up (catchUpMs), not added to every slot: they moved the schedule 1.1 s
   * more than a 3 s outage in the storm bench.
   */
  backAt?: number,
): PacingState {
  const due = dueAt(slot.slotAt, slot.shiftAt ?? state.shiftMs, state.shiftMs);
  if (due < state.pausedUntil) return state;
  const until = Math.min(now, backAt ?? now);
  const added = until - Math.max(due, awayFrom ?? due);
  if (added <= budget.lateToleranceMs) return state;
  return {
    ...state,
    nextSlotAt: Math.max(state.nextSlotAt + added, now),
    pausedUntil: until,
    shiftMs: state.shiftMs + added,
  };
}

/**
 * How much later than its (shifted) slot a write may still go, just after an outage that ended at
 * `outage.to`: the time since storage came back, while the waiting messages come in. No more than
 * the outage lasted, so the writes caught up never outnumber those the outage held back (the
 * tenant's budget window saw none of them), nor than OUTAGE_RECOVERY_MS. 0 with no outage.
 */
export function catchUpMs(now: number, outage: { from: number; to: number } | undefined): number {
  if (!outage || now - outage.to > OUTAGE_RECOVERY_MS) return 0;
  return Math.max(0, Math.min(now - outage.to, outage.to - outage.from));
}

/**
 * How long after storage came back a late write may still blame the outage (and pause the
 * tenant's schedule, `stalled`): enough for the storage clients' capped retries (2 s) and a poll
 * to bring the waiting messages in. A message later than that was held elsewhere (a receive
 * whose answer the outage cut leaves its messages invisible for the function timeout): counting
 * its lateness moved every slot of the tenant by 5 minutes once (the storm bench).
 */
export const OUTAGE_RECOVERY_MS = 5_000;

/** Whether a write due at `due` and found late at `now` was kept late by an outage that ended at `backAt` (undefined: none). */
export function lateForOutage(due: number, now: number, backAt: number | undefined): boolean {
  return backAt !== undefined && backAt >= due && now - backAt <= OUTAGE_RECOVERY_MS;
}

/** A message that arrives this close to its slot waits for it in the function; further off, it goes back to the queue. */
export const MAX_WAIT_IN_FUNCTION_MS = 1_000;

/**
 * The queue delay for a message due at `slotAt`. Queue delays are whole seconds; rounding up
 * would make every message late by up to a second, by different amounts, which squeezes more
 * writes into some windows than the schedule has. So the message is made visible up to a second
 * early, and the function waits out the rest: writes then go at their slots.
 */
export function queueDelayForSlot(slotAt: number, now: number): number {
  return Math.max(0, slotAt - now - (MAX_WAIT_IN_FUNCTION_MS - 1));
}

/** When a slot handed out at shift `shiftAt` is due now that the shift is `shiftMs`. */
export function dueAt(slotAt: number, shiftAt: number, shiftMs: number): number {
  return slotAt + Math.max(0, shiftMs - shiftAt);
}

/**
 * How long before its slot a write that waits in its function reads the tenant's schedule once
 * more (recheckSlot). It read the schedule when its message came, up to MAX_WAIT_IN_FUNCTION_MS
 * earlier: a 429 another instance met since then paused the tenant, and without a second look
 * every write waiting out that second went into the same storm (the storm bench: 9 to 12 writes
 * answered 429 where 2 or 3 were in flight), each 429 moving the pause's end later.
 */
export const RECHECK_LEAD_MS = 50;

/**
 * What a write due at `due` (by the schedule at shift `shiftAt`) does once the schedule read just
 * before it says the shift is `shiftMs`: go at its time when no pause was recorded since, wait in
 * the function for its moved time when that is close, else give its slot back and come again.
 */
export function recheckSlot(
  due: number,
  shiftAt: number,
  shiftMs: number,
  now: number,
): { kind: "go" } | { kind: "wait"; due: number } | { kind: "moved"; due: number } {
  const moved = dueAt(due, shiftAt, shiftMs);
  if (moved <= due) return { kind: "go" };
  return moved - now <= MAX_WAIT_IN_FUNCTION_MS ? { kind: "wait", due: moved } : { kind: "moved", due: moved };
}

/**
 * The least time a device message should be visible before its slot: some instance's poll
 * (host.json's maxPollingInterval, 500 ms, when the queue has been idle), the row read and the
 * claim all come before the write, and a message that arrives after its slot (plus
 * lateToleranceMs) wastes the slot. Sends are held back (see sendHoldMs) so every message gets
 * at least this lead, and at most MAX_WAIT_IN_FUNCTION_MS. The longer the lead, the less often
 * an idle queue must be polled: a poll costs a storage transaction on every instance whether or
 * not a message is there.
 */
export const MIN_VISIBLE_LEAD_MS = 600;

/**
 * How long to hold back the send of a message due at `slotAt` so that it becomes visible between
 * MIN_VISIBLE_LEAD_MS and MAX_WAIT_IN_FUNCTION_MS before its slot. Queue delays are whole seconds,
 * so the lead a message gets (the part of a second queueDelayForSlot leaves over) depends on the
 * moment it is sent, evenly between 0 and 1 s: one in ten would come with under 100 ms to spare,
 * less than storage takes to hand it to a worker. Holding such a send until just past its whole
 * second gives it a lead of 999 ms instead. A slot less than a second away is sent at once: a
 * hold could only shorten its lead.
 */
export function sendHoldMs(slotAt: number, now: number): number {
  const aheadMs = slotAt - now;
  if (aheadMs < MAX_WAIT_IN_FUNCTION_MS) return 0;
  const delaySeconds = Math.ceil(queueDelayForSlot(slotAt, now) / 1000);
  const leadMs = aheadMs - delaySeconds * 1000;
  return leadMs >= MIN_VISIBLE_LEAD_MS ? 0 : Math.floor(leadMs) + 1;
}
