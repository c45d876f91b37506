/**
 * Per-partner intake rate limit: the generic cell rate algorithm (GCRA), the token bucket
 * expressed as one timestamp. A partner may send `burst` requests at once, then one every
 * `60 s / perMinute`. The state is the "theoretical arrival time" (tat) of the next request,
 * epoch ms. Pure: the store keeps `tat` where every instance sees it.
 */
export interface RatePolicy {
  /** Sustained requests per minute; 0 turns the limit off. */
  perMinute: number;
  burst: number;
}

export type RateDecision = { allowed: true; tat: number } | { allowed: false; retryAfterMs: number };

export function decideRate(policy: RatePolicy, tat: number | undefined, now: number): RateDecision {
  if (policy.perMinute <= 0) return { allowed: true, tat: now };
  const interval = 60_000 / policy.perMinute;
  const tolerance = interval * (Math.max(1, policy.burst) - 1);
  const start = Math.max(tat ?? now, now);
  // One expression decides and sizes the wait: comparing `start - now > tolerance` and then
  // computing `start - tolerance - now` can disagree in floating point and refuse with a 0 wait.
  const wait = start - tolerance - now;
  if (wait > 0) return { allowed: false, retryAfterMs: Math.ceil(wait) };
  return { allowed: true, tat: start + interval };
}
