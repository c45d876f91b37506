import { randomUUID } from "node:crypto";
import { problem, ProblemType } from "../http/problem.js";
import { problemResponse } from "../http/responses.js";
import type { AppResponse } from "../http/types.js";
import type { IdempotencyStore } from "./idempotencyStore.js";
import type { BatchEntity } from "../storage/importEntities.js";
import { acceptedResponse } from "./acceptedResponse.js";
import { decideExisting, type IdempotencyRecord } from "./idempotencyKey.js";

export interface IdempotencyDeps {
  idempotency: Pick<IdempotencyStore, "claim" | "takeOver" | "complete" | "release">;
  readBatch(batchId: string): Promise<Pick<BatchEntity, "partnerId" | "tenantId" | "deviceCount"> | undefined>;
  ttlMs: number;
  retryAfterSeconds: number;
  /** The 202 for a batch a dead first request recorded (default: an import batch's). */
  accepted?: (batch: { batchId: string; tenantId: string; deviceCount: number }, retryAfterSeconds: number) => AppResponse;
  /** Keeps one route's keys apart from another's: the same key on POST /api/deregistrations is not the one on POST /api/imports. */
  keyScope?: string;
  now?: () => number;
}

/** Either answer now (replay, 409, 422), or go ahead holding the key with a reserved batch id, then `finish`. */
export type Admission =
  | { kind: "respond"; response: AppResponse }
  | { kind: "proceed"; batchId: string; finish(response: AppResponse | undefined): Promise<void> };

/** Stripe's name for it; not in the draft, harmless, and lets a caller see that nothing new happened. */
export const REPLAYED_HEADER = "idempotent-replayed";

/**
 * Idempotency-Key semantics for POST /api/imports (IETF httpapi draft): the first request with a
 * key claims it (an insert that fails if the row exists) and reserves its batch id; the same key
 * and request again gets the first answer; another request under the key gets 422; one arriving
 * while the first is processed gets 409. A request that is refused (400, 403, 429, 503) releases
 * the key, since nothing was recorded; only a 202 is kept, for the key's lifetime.
 */
export async function admitWithKey(deps: IdempotencyDeps, partnerId: string, callerKey: string, fingerprint: string): Promise<Admission> {
  const key = deps.keyScope ? `${deps.keyScope}:${callerKey}` : callerKey;
  for (;;) {
    const now = deps.now?.() ?? Date.now();
    const record: IdempotencyRecord = {
      fingerprint,
      state: "in-flight",
      batchId: randomUUID(),
      claimedAt: now,
      expiresAt: now + deps.ttlMs,
    };
    const claim = await deps.idempotency.claim(partnerId, key, record);
    if (claim.kind === "claimed") return proceed(deps, partnerId, key, record.batchId, claim.etag);

    const decision = decideExisting(claim.record, fingerprint, now);
    switch (decision.kind) {
      case "mismatch":
        return respond(
          problemResponse(
            problem(
              ProblemType.idempotencyKeyReused,
              422,
              "Idempotency-Key reused",
              "This Idempotency-Key was used for a different request (another body or query string). Use a new key for a new batch.",
            ),
          ),
        );
      case "in-flight":
        return respond(
          problemResponse(
            problem(
              ProblemType.idempotencyKeyInFlight,
              409,
              "Request in progress",
              "The first request with this Idempotency-Key is still being processed; retry after a moment.",
            ),
            { "retry-after": "1" },
          ),
        );
      case "replay":
        return respond({ ...decision.response, headers: { ...decision.response.headers, [REPLAYED_HEADER]: "true" } });
      case "take-over": {
        const taken = await deps.idempotency.takeOver(partnerId, key, claim.etag, record);
        if (!taken) continue; // someone else changed it first: look again
        if (decision.abandonedBatchId) {
          // The first request died holding the key. If it recorded its batch, the sweeper finishes
          // that batch: answer for it rather than importing the devices twice.
          const batch = await deps.readBatch(decision.abandonedBatchId);
          if (batch && batch.partnerId === partnerId) {
            const response = (deps.accepted ?? acceptedResponse)(
              { batchId: decision.abandonedBatchId, tenantId: batch.tenantId, deviceCount: batch.deviceCount },
              deps.retryAfterSeconds,
            );
            await deps.idempotency.complete(partnerId, key, taken.etag, stored(response));
            return respond(response);
          }
        }
        return proceed(deps, partnerId, key, record.batchId, taken.etag);
      }
    }
  }
}

function proceed(deps: IdempotencyDeps, partnerId: string, key: string, batchId: string, etag: string): Admission {
  return {
    kind: "proceed",
    batchId,
    async finish(response) {
      if (response?.status === 202) await deps.idempotency.complete(partnerId, key, etag, stored(response));
      else await deps.idempotency.release(partnerId, key, etag);
    },
  };
}

function respond(response: AppResponse): Admission {
  return { kind: "respond", response };
}

function stored(response: AppResponse) {
  return { status: response.status, headers: response.headers ?? {}, body: response.body ?? "" };
}
