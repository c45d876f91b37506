import type { TableClient } from "@azure/data-tables";
import { initialPacing, reserveSlots, stalled, throttled, type PacingBudget, type PacingState, type Reservation } from "../model/pacing.js";
import { isConflict, isNotFound, isPreconditionFailed } from "./tableErrors.js";

const WRITES_ROW = "writes";
const CONFLICT_RETRIES = 20;

type PacingEntity = PacingState & { partitionKey: string; rowKey: string };

interface PendingChange {
  change: (state: PacingState) => { next: PacingState; result: unknown };
  now: number;
  resolve: (result: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Each tenant's write schedule (src/model/pacing.ts), one row per tenant in the `tenantpacing`
 * table, changed only by ETag-conditional writes so concurrent instances never hand out one
 * slot twice.
 */
export class TenantPacing {
  private readonly cache = new Map<string, { state: PacingState; readAt: number }>();
  /** Changes waiting for the tenant's row while another write of this instance is on its way. */
  private readonly pending = new Map<string, PendingChange[]>();

  constructor(
    private readonly table: TableClient,
    private readonly budget: PacingBudget,
  ) {}

  /** How late after its slot a write may still leave (pacing.ts, lateToleranceMs). */
  get lateToleranceMs(): number {
    return this.budget.lateToleranceMs;
  }

  /** `count` consecutive write slots for the tenant, none before `notBefore`. Times are epoch ms. */
  reserve(tenantId: string, count: number, now: number, notBefore?: number): Promise<Reservation> {
    return this.combined(tenantId, now, (state) => {
      const reservation = reserveSlots(state, this.budget, now, count, notBefore ?? now);
      return { next: reservation.next, result: reservation };
    });
  }

  /** Records a 429 for the tenant and hands the throttled write(s) new slots after the pause. */
  throttledThenReserve(tenantId: string, retryAfterMs: number, now: number, count = 1): Promise<Reservation> {
    return this.combined(tenantId, now, (state) => {
      const paused = throttled(state, this.budget, now, retryAfterMs);
      const reservation = reserveSlots(paused, this.budget, now, count);
      return { next: reservation.next, result: reservation };
    });
  }

  /**
   * A write found late for its slot: the tenant's schedule pauses from that slot until now
   * (pacing.ts, stalled), once however many instances find the same outage. The shift after it.
   */
  stall(tenantId: string, slot: { slotAt: number; shiftAt?: number }, now: number, awayFrom?: number, backAt?: number): Promise<number> {
    return this.combined(tenantId, now, (state) => {
      const next = stalled(state, this.budget, slot, now, awayFrom, backAt);
      return { next, result: next.shiftMs };
    });
  }

  /**
   * The tenant's schedule as this instance last saw it, read again once that is `maxAgeMs` old
   * (by default the budget's cacheMs, half a window; 0 reads it now).
   */
  async current(tenantId: string, now: number, maxAgeMs = this.budget.cacheMs): Promise<PacingState> {
    const cached = this.cache.get(tenantId);
    if (cached && now - cached.readAt < maxAgeMs) return cached.state;
    const { state } = await this.read(tenantId);
    this.cache.set(tenantId, { state, readAt: now });
    return state;
  }

  private async read(tenantId: string): Promise<{ state: PacingState; etag?: string }> {
    try {
      const entity = await this.table.getEntity<PacingEntity>(tenantId, WRITES_ROW);
      const { nextSlotAt, intervalMs, throttledAt, pausedUntil, shiftMs } = entity;
      return { state: { nextSlotAt, intervalMs, throttledAt, pausedUntil, shiftMs }, etag: entity.etag };
    } catch (error) {
      if (isNotFound(error)) return { state: initialPacing(this.budget) };
      throw error;
    }
  }

  /**
   * Applies `change` to the tenant's row, together with every other change this instance asks
   * for meanwhile: while one write is on its way, the next ones queue and then go as one read and
   * one write. When Graph throttles, every write in flight meets the same 429 at once; one
   * conditional write each would race for the one row (and lose, and retry) exactly when the
   * workers should be quiet.
   */
  private combined<T>(tenantId: string, now: number, change: (state: PacingState) => { next: PacingState; result: T }): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const queued = this.pending.get(tenantId);
      const entry: PendingChange = { change, now, resolve: resolve as (result: unknown) => void, reject };
      if (queued) {
        queued.push(entry);
        return;
      }
      this.pending.set(tenantId, [entry]);
      void this.drain(tenantId);
    });
  }

  private async drain(tenantId: string): Promise<void> {
    for (;;) {
      const changes = this.pending.get(tenantId) ?? [];
      if (changes.length === 0) {
        this.pending.delete(tenantId);
        return;
      }
      // Later arrivals queue behind this write; the list is taken whole.
      this.pending.set(tenantId, []);
      const now = Math.max(...changes.map((c) => c.now));
      try {
        const results = await this.update(tenantId, now, (state) => {
          let current = state;
          const out: unknown[] = [];
          for (const { change } of changes) {
            const { next, result } = change(current);
            current = next;
            out.push(result);
          }
          return { next: current, result: out };
        });
        changes.forEach((c, i) => c.resolve(results[i]));
      } catch (error) {
        for (const c of changes) c.reject(error);
      }
    }
  }

  private async update<T>(tenantId: string, now: number, change: (state: PacingState) => { next: PacingState; result: T }): Promise<T> {
    for (let tries = 0; ; tries++) {
      const { state, etag } = await this.read(tenantId);
      const { next, result } = change(state);
      // A stall that another instance already recorded changes nothing: no write, no race.
      if (next === state && etag) {
        this.cache.set(tenantId, { state, readAt: now });
        return result;
      }
      const entity = { partitionKey: tenantId, rowKey: WRITES_ROW, ...next };
      try {
        if (etag) await this.table.updateEntity(entity, "Replace", { etag });
        else await this.table.createEntity(entity);
        this.cache.set(tenantId, { state: next, readAt: now });
        return result;
      } catch (error) {
        const lostRace = isPreconditionFailed(error) || isConflict(error);
        if (!lostRace || tries >= CONFLICT_RETRIES) throw error;
      }
    }
  }
}
