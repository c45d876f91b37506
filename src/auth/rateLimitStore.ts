import type { TableClient } from "@azure/data-tables";
import { decideRate, type RateDecision, type RatePolicy } from "./rateLimit.js";
import { isConflict, isNotFound, isPreconditionFailed } from "../storage/tableErrors.js";

const INTAKE_ROW = "intake";
const CONFLICT_RETRIES = 20;

/**
 * Each partner's GCRA state in the `ratelimits` table (PartitionKey partnerId, RowKey "intake",
 * `tat`), changed only by ETag-conditional writes. Every instance reads and writes the same row,
 * so the limit holds for the partner however many instances serve it; the price is one read and
 * one write per intake request, small beside the batch's own writes.
 */
export class RateLimitStore {
  constructor(
    private readonly table: TableClient,
    private readonly policy: RatePolicy,
  ) {}

  async takeIntake(partnerId: string, now: number = Date.now()): Promise<RateDecision> {
    if (this.policy.perMinute <= 0) return { allowed: true, tat: now };
    for (let tries = 0; ; tries++) {
      let tat: number | undefined;
      let etag: string | undefined;
      try {
        const row = await this.table.getEntity<{ tat: number }>(partnerId, INTAKE_ROW);
        tat = row.tat;
        etag = row.etag;
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
      const decision = decideRate(this.policy, tat, now);
      if (!decision.allowed) return decision;
      const entity = { partitionKey: partnerId, rowKey: INTAKE_ROW, tat: decision.tat };
      try {
        if (etag) await this.table.updateEntity(entity, "Replace", { etag });
        else await this.table.createEntity(entity);
        return decision;
      } catch (error) {
        const lostRace = isPreconditionFailed(error) || isConflict(error);
        if (!lostRace || tries >= CONFLICT_RETRIES) throw error;
      }
    }
  }
}
