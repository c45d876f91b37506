import { json } from "../http/responses.js";
import type { AppResponse } from "../http/types.js";
import { batchLinks } from "../status/statusViews.js";
import type { AcceptedBatchBody } from "../status/viewSchemas.js";

/** The 202 of POST /api/imports: also rebuilt for an Idempotency-Key whose first request died after recording its batch. */
export function acceptedResponse(
  batch: { batchId: string; tenantId: string; deviceCount: number },
  retryAfterSeconds: number,
  /** Where the batch is read: an import's by default, a deregistration's (deregistrationLinks) for one. */
  links: AcceptedBatchBody["links"] = batchLinks(batch.batchId),
): AppResponse {
  // The documented shape (acceptedBatchSchema feeds the OpenAPI document).
  const body: AcceptedBatchBody = {
    id: batch.batchId,
    status: "running",
    tenantId: batch.tenantId,
    deviceCount: batch.deviceCount,
    statusUrl: links.self,
    links,
  };
  return json(202, body, { location: links.self, "retry-after": String(retryAfterSeconds) });
}
