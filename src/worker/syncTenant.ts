import type { TableClient } from "@azure/data-tables";
import type { GraphClient } from "../graph/graphClient.js";
import type { Logger } from "../telemetry/logging.js";
import type { DeviceMessageOf } from "../storage/deviceMessage.js";
import type { DeviceMessageSender } from "../storage/deviceQueue.js";
import { isConflict, isNotFound, isPreconditionFailed } from "../storage/tableErrors.js";
import { retryDelayMs } from "../model/backoff.js";
import type { TenantPacing } from "../storage/tenantPacing.js";
import { MAX_WAIT_IN_FUNCTION_MS, queueDelayForSlot } from "../model/pacing.js";
import { classifyFailure } from "./classifyGraphResult.js";

/** Intune refuses a sync within 10 minutes of the previous one (429). */
export const SYNC_MIN_INTERVAL_MS = 10 * 60_000;
/** While a sync runs Intune answers 409; look again this much later. */
export const SYNC_BUSY_RETRY_MS = 60_000;
/** A sync marked pending this long past its time lost its message (a crash); it no longer blocks a new one. */
const PENDING_GIVE_UP_MS = 5 * 60_000;
const MAX_SYNC_TRIES = 10;

interface SyncRow {
  lastSyncAt: number;
  /** When the pending sync is due; 0 when none is pending. */
  dueAt: number;
  /** Numbers the pending sync's message, so a duplicate or an old one is dropped. */
  attempt: number;
  tries: number;
}

export interface SyncDeps {
  /** The tenantpacing table: a tenant's sync row sits beside its write schedule. */
  table: TableClient;
  queue: DeviceMessageSender;
  /** A sync is a write in Intune's budget: it takes a slot of the tenant's schedule like a create. */
  pacing: Pick<TenantPacing, "reserve">;
  graph: GraphClient;
  debounceMs: number;
  log: Logger;
  now?: () => number;
}

const SYNC_ROW = "sync";

/**
 * Asks for an Autopilot sync of the tenant once its batch has settled, debounced: batches that
 * settle close together share one sync, and none is sent within 10 minutes of the last.
 */
export async function requestSync(deps: SyncDeps, tenantId: string): Promise<void> {
  const now = deps.now?.() ?? Date.now();
  const outcome = await updateRow(deps, tenantId, (row) => {
    const pending = row.dueAt > 0 && now < row.dueAt + PENDING_GIVE_UP_MS;
    if (pending) return undefined;
    return { ...row, dueAt: Math.max(now + deps.debounceMs, row.lastSyncAt + SYNC_MIN_INTERVAL_MS), attempt: row.attempt + 1, tries: 0 };
  });
  if (outcome) await deps.queue.send(syncMessage(tenantId, outcome.attempt), Math.max(0, outcome.dueAt - now));
}

export async function syncTenant(
  deps: SyncDeps,
  message: DeviceMessageOf<"syncTenant">,
): Promise<"stale" | "synced" | "rescheduled" | "given-up" | "deferred"> {
  const tenantId = message.batchId;
  const { row } = await readRow(deps, tenantId);
  if (row.dueAt === 0 || row.attempt !== message.attempt) return "stale";

  // Into the tenant's write schedule, like every other write, so a sync never costs a 429 of our own.
  const arrived = deps.now?.() ?? Date.now();
  const slotAt = message.slotAt ?? Math.round((await deps.pacing.reserve(tenantId, 1, arrived)).firstSlotAt);
  if (slotAt - arrived > MAX_WAIT_IN_FUNCTION_MS) {
    await deps.queue.send({ ...message, slotAt }, queueDelayForSlot(slotAt, arrived));
    return "deferred";
  }
  if (slotAt > arrived) await new Promise((resolve) => setTimeout(resolve, slotAt - arrived));

  const result = await deps.graph.syncAutopilotSettings(tenantId);
  const now = deps.now?.() ?? Date.now();
  if (result.kind === "ok") {
    await updateRow(deps, tenantId, (r) => ({ ...r, lastSyncAt: now, dueAt: 0, tries: 0 }));
    deps.log.info("Autopilot sync requested", { tenantId });
    return "synced";
  }
  const status = result.kind === "http-error" ? result.status : undefined;
  const failure = classifyFailure(result);
  if (status !== 409 && (failure.kind === "permanent" || row.tries + 1 >= MAX_SYNC_TRIES)) {
    await updateRow(deps, tenantId, (r) => ({ ...r, dueAt: 0, tries: 0 }));
    deps.log.error("Autopilot sync not possible", { tenantId, errorCode: failure.errorCode, ...(status ? { status } : {}) });
    return "given-up";
  }
  const retryAfterMs = failure.kind === "transient" ? failure.retryAfterMs : undefined;
  const delayMs =
    status === 409
      ? SYNC_BUSY_RETRY_MS
      : status === 429
        ? Math.max(retryAfterMs ?? 0, row.lastSyncAt + SYNC_MIN_INTERVAL_MS - now, 1_000)
        : retryDelayMs(row.tries + 1, { baseDelayMs: 5_000, maxDelayMs: SYNC_MIN_INTERVAL_MS }, retryAfterMs);
  const next = await updateRow(deps, tenantId, (r) => ({ ...r, dueAt: now + delayMs, attempt: r.attempt + 1, tries: r.tries + 1 }));
  if (next) await deps.queue.send(syncMessage(tenantId, next.attempt), delayMs);
  return "rescheduled";
}

function syncMessage(tenantId: string, attempt: number): DeviceMessageOf<"syncTenant"> {
  return { v: 1, kind: "syncTenant", batchId: tenantId, rowKey: SYNC_ROW, attempt };
}

async function readRow(deps: SyncDeps, tenantId: string): Promise<{ row: SyncRow; etag?: string }> {
  try {
    const entity = await deps.table.getEntity<SyncRow>(tenantId, SYNC_ROW);
    return {
      row: { lastSyncAt: entity.lastSyncAt, dueAt: entity.dueAt, attempt: entity.attempt, tries: entity.tries ?? 0 },
      etag: entity.etag,
    };
  } catch (error) {
    if (isNotFound(error)) return { row: { lastSyncAt: 0, dueAt: 0, attempt: 0, tries: 0 } };
    throw error;
  }
}

/** Read-modify-write under the row's ETag; `change` returning undefined writes nothing. */
async function updateRow(deps: SyncDeps, tenantId: string, change: (row: SyncRow) => SyncRow | undefined): Promise<SyncRow | undefined> {
  for (let tries = 0; tries < 20; tries++) {
    const { row, etag } = await readRow(deps, tenantId);
    const next = change(row);
    if (!next) return undefined;
    try {
      const entity = { partitionKey: tenantId, rowKey: SYNC_ROW, ...next };
      if (etag) await deps.table.updateEntity(entity, "Replace", { etag });
      else await deps.table.createEntity(entity);
      return next;
    } catch (error) {
      if (!isPreconditionFailed(error) && !isConflict(error)) throw error;
    }
  }
  throw new Error(`sync row of tenant ${tenantId} kept changing`);
}
