import { json } from "../http/responses.js";
import type { AppResponse } from "../http/types.js";
import { batchLinks } from "../status/statusViews.js";

/** The 202 of POST /api/imports: also rebuilt for an Idempotency-Key whose first request died after recording its batch. */
export function acceptedResponse(batch: { batchId: string; tenantId: string; deviceCount: number }, retryAfterSeconds: number): AppResponse {
  const links = batchLinks(batch.batchId);
  return json(
    202,
    { id: batch.batchId, status: "running", tenantId: batch.tenantId, deviceCount: batch.deviceCount, statusUrl: links.self, links },
    { location: links.self, "retry-after": String(retryAfterSeconds) },
  );
}
