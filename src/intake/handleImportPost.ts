import { tenantNotAllowed } from "../auth/authProblems.js";
import { mayImportInto, type Caller } from "../auth/caller.js";
import { problem, ProblemType } from "../http/problem.js";
import { json, problemResponse, storageUnavailable } from "../http/responses.js";
import type { AppRequest, AppResponse } from "../http/types.js";
import type { IntakeLimits } from "./limits.js";
import { parseImportRequest } from "./parseImportRequest.js";
import { submitBatch, type IntakeDeps } from "./submitBatch.js";
import { batchLinks } from "../status/statusViews.js";

export interface ImportPostDeps extends IntakeDeps {
  limits: IntakeLimits;
  defaultTenantId?: string;
  /** How long a caller should wait before its first status poll, and before retrying after a 503. */
  retryAfterSeconds: number;
}

/** POST /api/imports: validate the whole batch, record it, enqueue it, answer 202. */
export async function handleImportPost(deps: ImportPostDeps, request: AppRequest, caller: Caller): Promise<AppResponse> {
  const declaredLength = Number(request.headers.get("content-length") ?? "0");
  const body = declaredLength > deps.limits.maxBodyBytes ? "too-large" : await request.readBody(deps.limits.maxBodyBytes);
  if (body === "too-large") {
    return problemResponse(
      problem(ProblemType.bodyTooLarge, 413, "Request body too large", `The body must not exceed ${deps.limits.maxBodyBytes} bytes; split the batch.`, {
        maxBodyBytes: deps.limits.maxBodyBytes,
      }),
    );
  }

  const parsed = parseImportRequest(
    { contentType: request.headers.get("content-type") ?? undefined, body, query: request.url.searchParams },
    deps.limits,
  );
  if (!parsed.ok) return problemResponse(parsed.problem);

  const tenantId = parsed.request.tenantId ?? deps.defaultTenantId;
  if (!tenantId) {
    return problemResponse(
      problem(ProblemType.validation, 400, "Validation failed", "The batch names no tenantId and the service has no DEFAULT_TENANT_ID; nothing was imported.", {
        errors: [{ field: "tenantId", message: "required: the Entra tenant to import into" }],
      }),
    );
  }

  if (!mayImportInto(caller, tenantId)) return tenantNotAllowed(tenantId);

  let accepted;
  try {
    accepted = await submitBatch(deps, { ...parsed.request, tenantId, partnerId: caller.partnerId }, parsed.source, parsed.lines);
  } catch (error) {
    deps.log.error("intake could not record the batch", { reason: (error as Error).message });
    return storageUnavailable(deps.retryAfterSeconds);
  }
  const links = batchLinks(accepted.batchId);
  return json(
    202,
    { id: accepted.batchId, status: "running", tenantId, deviceCount: accepted.deviceCount, statusUrl: links.self, links },
    { location: links.self, "retry-after": String(deps.retryAfterSeconds) },
  );
}
