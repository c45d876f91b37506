import { json } from "../http/responses.js";
import type { AppResponse } from "../http/types.js";
import { batchLinks } from "../status/statusViews.js";
import type { AcceptedBatchBody } from "../status/viewSchemas.js";

/** The 202 of POST /api/imports: also rebuilt for an Idempotency-Key whose first request died after recording its batch. */
export function acceptedResponse(batch: { batchId: string; tenantId: string; deviceCount: number }, retryAfterSeconds: number): AppResponse {
  const links = batchLinks(batch.batchId);
  // The documented shape (acceptedBatchSchema feeds the OpenAPI document).
  const body: AcceptedBatchBody = { id: batch.batchId, status: "running", tenantId: batch.tenantId, deviceCount: batch.deviceCount, statusUrl: links.self, links };
  return json(202, body, { location: links.self, "retry-after": String(retryAfterSeconds) });
}
