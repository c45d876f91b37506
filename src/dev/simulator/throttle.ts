/**
 * Graph's Intune throttling as pure window accounting, so it can be tested without a server.
 *
 * Model: a sliding window log. A request at time t is admitted when the hits recorded in
 * (t - windowMs, t] leave room for it. Every attempt is recorded, admitted or not, because
 * Graph keeps counting requests made while throttled: a client that retries before
 * Retry-After only pushes its own release further out. A sliding log (not a fixed window)
 * is used because it has no boundary at which a burst of 2× the limit gets through.
 */
export interface ThrottleLimits {
  windowMs: number;
  perAppPerTenant: number;
  perTenant: number;
}

export type ThrottleDecision = { admitted: true } | { admitted: false; scope: "app" | "tenant"; retryAfterSeconds: number };

export class SlidingWindow {
  // Hits in time order; `head` skips expired ones so pruning is amortised O(1).
  private hits: number[] = [];
  private head = 0;

  constructor(
    readonly windowMs: number,
    readonly limit: number,
  ) {}

  count(now: number): number {
    this.prune(now);
    return this.hits.length - this.head;
  }

  hasRoomFor(now: number, n: number): boolean {
    return this.count(now) + n <= this.limit;
  }

  record(now: number, n: number): void {
    this.prune(now);
    // A clock that steps back must not break the ordering that pruning relies on.
    const last = this.hits[this.hits.length - 1];
    const at = last !== undefined && now < last ? last : now;
    for (let i = 0; i < n; i++) this.hits.push(at);
  }

  /**
   * Milliseconds until `n` more hits fit, assuming nobody else calls meanwhile: the hit that
   * must expire is the (count - limit + n)-th oldest, and a hit at h leaves the window at h + windowMs.
   * Infinite when n alone exceeds the limit.
   */
  waitMs(now: number, n: number): number {
    if (n > this.limit) return Number.POSITIVE_INFINITY;
    const count = this.count(now);
    const mustExpire = count + n - this.limit;
    if (mustExpire <= 0) return 0;
    const releasingHit = this.hits[this.head + mustExpire - 1]!;
    return Math.max(0, releasingHit + this.windowMs - now);
  }

  private prune(now: number): void {
    while (this.head < this.hits.length && this.hits[this.head]! <= now - this.windowMs) this.head++;
    // Compact once the dead prefix dominates, so a long-lived window does not grow without bound.
    if (this.head > 1024 && this.head * 2 > this.hits.length) {
      this.hits = this.hits.slice(this.head);
      this.head = 0;
    }
  }
}

/** Retry-After is whole seconds, at least 1, rounded up so that waiting it is always enough. */
export function retryAfterSeconds(waitMs: number): number {
  return Math.max(1, Math.ceil(waitMs / 1000));
}

/**
 * Two budgets every request must fit: one per (tenant, app) and one per tenant, so that a
 * second app in the tenant keeps working when the first exhausts its own share, until the
 * tenant's share runs out for everyone.
 */
export class TenantAppThrottle {
  private readonly perApp = new Map<string, SlidingWindow>();
  private readonly perTenant = new Map<string, SlidingWindow>();

  constructor(readonly limits: ThrottleLimits) {}

  /** Records `n` requests (an import action of n devices counts n) and says whether they are admitted. */
  admit(tenantId: string, appId: string, now: number, n = 1): ThrottleDecision {
    if (!this.fitsAtAll(n))
      throw new RangeError(`${n} requests can never fit a window of ${this.limits.perAppPerTenant}/${this.limits.perTenant}`);
    const app = this.window(this.perApp, `${tenantId}\u0000${appId}`, this.limits.perAppPerTenant);
    const tenant = this.window(this.perTenant, tenantId, this.limits.perTenant);
    const appOk = app.hasRoomFor(now, n);
    const tenantOk = tenant.hasRoomFor(now, n);
    app.record(now, n);
    tenant.record(now, n);
    if (appOk && tenantOk) return { admitted: true };

    // Measured after recording: the rejected attempt itself delays the release.
    const appWait = app.waitMs(now, n);
    const tenantWait = tenant.waitMs(now, n);
    // The scope names the budget that refused; if both did, the one that holds out longer.
    const scope = !appOk && (tenantOk || appWait >= tenantWait) ? "app" : "tenant";
    return { admitted: false, scope, retryAfterSeconds: retryAfterSeconds(Math.max(appWait, tenantWait)) };
  }

  /** Whether `n` requests could ever be admitted: an import larger than a whole window never can. */
  fitsAtAll(n: number): boolean {
    return n <= this.limits.perAppPerTenant && n <= this.limits.perTenant;
  }

  private window(map: Map<string, SlidingWindow>, key: string, limit: number): SlidingWindow {
    let w = map.get(key);
    if (!w) {
      w = new SlidingWindow(this.limits.windowMs, limit);
      map.set(key, w);
    }
    return w;
  }
}
