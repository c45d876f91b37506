/**
 * windowsAutopilotSettings/sync rules (beta docs; a maintainer confirmed the 10-minute
 * minimum): 409 while a sync is running, 429 within the cooldown of the previous accepted
 * sync. Only accepted syncs start the clock, so refused calls do not extend the wait.
 */
export const SYNC_COOLDOWN_MS = 10 * 60 * 1000;

export interface SyncHistory {
  lastStartedAt?: number;
}

export type SyncDecision = { outcome: "started" } | { outcome: "running" } | { outcome: "tooSoon"; retryAfterMs: number };

export function decideSync(history: SyncHistory, now: number, runMs: number, cooldownMs: number): SyncDecision {
  const last = history.lastStartedAt;
  if (last === undefined) return { outcome: "started" };
  if (now < last + runMs) return { outcome: "running" };
  if (now < last + cooldownMs) return { outcome: "tooSoon", retryAfterMs: last + cooldownMs - now };
  return { outcome: "started" };
}
