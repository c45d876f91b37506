import type { GraphClient, GraphResult } from "../graph/graphClient.js";
import type { ImportedDeviceCreate } from "../graph/importedDevice.js";
import type { Logger } from "../telemetry/logging.js";
import type { DeviceMessageSender } from "../storage/deviceQueue.js";
import type { DeviceEntity } from "../storage/importEntities.js";
import type { ImportStore } from "../storage/importStore.js";
import type { TenantPacing } from "../storage/tenantPacing.js";
import type { StorageReachability } from "../storage/storageReachability.js";
import type { RetryPolicy } from "../model/backoff.js";
import type { ChunkClaims } from "./chunkClaims.js";

/*
 * What a create attempt needs whether it goes alone (processDeviceMessage.ts) or in a chunk
 * (processChunk.ts). Both steps import it from here, so neither imports the other's module back.
 */

export interface WorkerDeps {
  store: ImportStore;
  queue: DeviceMessageSender;
  pacing: Pick<TenantPacing, "current" | "reserve" | "throttledThenReserve" | "stall" | "lateToleranceMs">;
  graph: GraphClient;
  retry: RetryPolicy;
  /** How long after a create its record may still be missing from the tenant's list (config GRAPH_LIST_GRACE_MS). */
  listGraceMs: number;
  /** How long after its chunk's slot a follower's message comes (config: importAction.followerDelayMs). */
  followerDelayMs?: number;
  /**
   * What this instance saw of storage (storageReachability.ts): a write late for its slot while
   * storage was away pauses the tenant's schedule (a stall). Without it, a late write always
   * takes a new slot.
   */
  reachability?: Pick<StorageReachability, "backAfterAwayDuring" | "awaySinceDuring" | "lastEndedSince">;
  /** What this instance has read of chunks for their followers (chunkClaims.ts); without it each follower reads its own row. */
  chunkClaims?: ChunkClaims;
  log: Logger;
  now?: () => Date;
  random?: () => number;
}

export type StepOutcome =
  "missing" | "stale" | "deferred" | "rescheduled" | "submitted" | "retry-scheduled" | "imported" | "failed" | "canceled";

/** The fields of a failed or in-doubt attempt, cleared once that attempt is over. */
export const clearedError = {
  errorCode: undefined,
  errorName: undefined,
  errorMessage: undefined,
  nextAttemptAt: undefined,
  inDoubt: undefined,
  inDoubtSince: undefined,
} as const;

/**
 * The importId a create sends: the pipeline's key for the device (batch and row). Where Graph
 * echoes it, as documented, it proves a record found after a lost answer is ours; real tenants
 * have been seen to overwrite it (recordOwnership.ts), so it is never what a record is found by.
 * A caller's own importId stays in the row.
 */
export function importIdOf(device: Pick<DeviceEntity, "partitionKey" | "rowKey">): string {
  return `${device.partitionKey}/${device.rowKey}`;
}

export function createBody(device: DeviceEntity): ImportedDeviceCreate {
  // Only an imported device's row loses its hash, and an imported device is never created (or put in a chunk) again.
  if (!device.hardwareIdentifier) throw new Error(`device ${device.partitionKey}/${device.rowKey} has no hardware hash to create it with`);
  return {
    serialNumber: device.serialNumber,
    hardwareIdentifier: device.hardwareIdentifier,
    ...(device.productKey ? { productKey: device.productKey } : {}),
    ...(device.groupTag ? { groupTag: device.groupTag } : {}),
    ...(device.assignedUserPrincipalName ? { assignedUserPrincipalName: device.assignedUserPrincipalName } : {}),
    importId: importIdOf(device),
  };
}

/** 429 and 503 say the request was not taken; a timeout, a dropped connection or another 5xx may hide a create. */
export function mayHaveCreated(result: GraphResult<unknown>): boolean {
  if (result.kind === "network-error") return true;
  return result.kind === "http-error" && result.status >= 500 && result.status !== 503;
}

export function clock(deps: Pick<WorkerDeps, "now">): Date {
  return deps.now ? deps.now() : new Date();
}

export function epochClock(deps: Pick<WorkerDeps, "now">): () => number {
  return () => clock(deps).getTime();
}
