import type { GraphClient } from "../graph/graphClient.js";
import type { Logger } from "../telemetry/logging.js";
import type { DeviceMessageOf } from "../storage/deviceMessage.js";
import type { DeviceMessageSender } from "../storage/deviceQueue.js";
import type { TenantPacing } from "../storage/tenantPacing.js";
import { retryDelayMs } from "../model/backoff.js";
import { asksTenantToWait, classifyFailure } from "./classifyGraphResult.js";
import { MAX_WAIT_IN_FUNCTION_MS, queueDelayForSlot, type Reservation } from "../model/pacing.js";

export interface DeleteDeps {
  queue: DeviceMessageSender;
  pacing: Pick<TenantPacing, "reserve" | "throttledThenReserve">;
  graph: GraphClient;
  log: Logger;
  now?: () => number;
}

/** A delete message gives up after this many rounds of transient failures; a leftover record is harmless. */
const MAX_DELETE_ATTEMPTS = 8;

/**
 * Schedules the deletion of imported records this pipeline created (never anyone else's: the
 * ids are those Graph returned for our creates). Deletes are writes, so each takes a slot of the
 * tenant's schedule; the ids travel in messages of as many slots as fit in one second, so a
 * function never waits longer than that between them.
 */
export async function scheduleDeletes(deps: DeleteDeps, batchId: string, tenantId: string, graphIds: string[], attempt = 1): Promise<void> {
  if (graphIds.length === 0) return;
  const now = deps.now?.() ?? Date.now();
  const slots = await deps.pacing.reserve(tenantId, graphIds.length, now);
  await sendChunks(deps, batchId, tenantId, graphIds, slots, attempt, now);
}

async function sendChunks(
  deps: DeleteDeps,
  batchId: string,
  tenantId: string,
  graphIds: string[],
  slots: Reservation,
  attempt: number,
  now: number,
) {
  const perMessage = Math.max(1, Math.min(100, Math.floor(MAX_WAIT_IN_FUNCTION_MS / slots.intervalMs)));
  for (let i = 0; i < graphIds.length; i += perMessage) {
    const slotAt = Math.round(slots.firstSlotAt + i * slots.intervalMs);
    const message: DeviceMessageOf<"deleteRecords"> = {
      v: 1,
      kind: "deleteRecords",
      batchId,
      rowKey: "batch",
      attempt,
      tenantId,
      graphIds: graphIds.slice(i, i + perMessage),
      slotAt,
      shiftAt: slots.shiftMs,
      intervalMs: slots.intervalMs,
    };
    await deps.queue.send(message, queueDelayForSlot(slotAt, now));
  }
}

export async function deleteRecords(
  deps: DeleteDeps,
  message: DeviceMessageOf<"deleteRecords">,
): Promise<{ deleted: number; rescheduled: number }> {
  const { graphIds: ids, tenantId, intervalMs: interval } = message;
  let deleted = 0;
  for (let k = 0; k < ids.length; k++) {
    const due = message.slotAt + k * interval;
    const wait = due - (deps.now?.() ?? Date.now());
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(wait, MAX_WAIT_IN_FUNCTION_MS)));
    const result = await deps.graph.deleteImportedDevice(tenantId, ids[k]!);
    if (result.kind === "ok" || (result.kind === "http-error" && result.status === 404)) {
      deleted++;
      continue;
    }
    const failure = classifyFailure(result);
    const rest = ids.slice(k);
    const now = deps.now?.() ?? Date.now();
    if (failure.kind !== "transient" || message.attempt >= MAX_DELETE_ATTEMPTS) {
      deps.log.warn("imported records left in Graph", {
        batchId: message.batchId,
        tenantId,
        errorCode: failure.errorCode,
        deviceCount: rest.length,
      });
      return { deleted, rescheduled: 0 };
    }
    // The rest go back to the schedule: after the tenant's pause on a 429 (or a 503 with Retry-After), after a backoff otherwise.
    const slots =
      result.kind === "http-error" && asksTenantToWait(result.status, failure.retryAfterMs)
        ? await deps.pacing.throttledThenReserve(tenantId, failure.retryAfterMs ?? 1_000, now, rest.length)
        : await deps.pacing.reserve(
            tenantId,
            rest.length,
            now,
            now + retryDelayMs(message.attempt, { baseDelayMs: 2_000, maxDelayMs: 300_000 }, failure.retryAfterMs),
          );
    await sendChunks(deps, message.batchId, tenantId, rest, slots, message.attempt + 1, now);
    return { deleted, rescheduled: rest.length };
  }
  return { deleted, rescheduled: 0 };
}
