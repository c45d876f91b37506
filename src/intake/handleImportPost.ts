import { tenantNotAllowed } from "../auth/authProblems.js";
import { mayImportInto, type Caller } from "../auth/caller.js";
import type { RateDecision } from "../auth/rateLimit.js";
import { problem, ProblemType } from "../http/problem.js";
import { problemResponse, storageUnavailable } from "../http/responses.js";
import type { AppRequest, AppResponse } from "../http/types.js";
import { acceptedResponse } from "./acceptedResponse.js";
import { dryRunResponse, readDryRun } from "./dryRunResponse.js";
import { IDEMPOTENCY_KEY_HEADER, readIdempotencyKey, requestFingerprint } from "./idempotencyKey.js";
import { admitWithKey, type Admission, type IdempotencyDeps } from "./idempotentIntake.js";
import type { IntakeLimits } from "../model/limits.js";
import { parseImportRequest, type ParseOutcome } from "./parseImportRequest.js";
import { submitBatch, type IntakeDeps } from "./submitBatch.js";
import { validationProblem } from "./validationProblem.js";
import { callbackUrlProblem, type AllowedHost } from "../model/callbackUrl.js";
import { errorMessage } from "../model/errorMessage.js";

export interface ImportPostDeps extends IntakeDeps {
  limits: IntakeLimits;
  defaultTenantId?: string;
  /** How long a caller should wait before its first status poll, and before retrying after a 503. */
  retryAfterSeconds: number;
  /** The partner's intake rate limit (absent: none). */
  rateLimit?: { takeIntake(partnerId: string): Promise<RateDecision> };
  /** Hosts a callbackUrl may name although private or plain http (WEBHOOK_ALLOWED_HOSTS). */
  webhookAllowedHosts?: readonly AllowedHost[];
  /** Idempotency-Key support (absent: the header is ignored). */
  idempotency?: Omit<IdempotencyDeps, "retryAfterSeconds">;
}

/**
 * POST /api/imports: Idempotency-Key, the partner's rate limit, then validate the whole batch,
 * record it, enqueue it, answer 202. A request with a key is rate-limited only once it holds the
 * key, so a retry of an accepted request always gets its original answer, never a 429.
 *
 * `?dryRun=true` runs every check and answers 200 with what the batch would be; it records and
 * queues nothing, so it neither claims nor replays an Idempotency-Key, but it costs the partner's
 * rate like any POST (a dry run reads and decodes the whole body).
 */
export async function handleImportPost(deps: ImportPostDeps, request: AppRequest, caller: Caller): Promise<AppResponse> {
  const dryRun = readDryRun(request.url.searchParams);
  if (dryRun === "invalid") {
    return problemResponse(
      problem(ProblemType.invalidQuery, 400, "Invalid query", "The query string has invalid parameters.", {
        errors: [{ field: "dryRun", message: "must be true or false" }],
      }),
    );
  }

  if (dryRun) {
    const keyProblem = idempotencyKeyProblem(request);
    if (keyProblem) return keyProblem;
    const limited = await takeRate(deps, caller);
    if (limited) return limited;
    const body = await readBody(deps, request);
    if (!Buffer.isBuffer(body)) return body;
    const checked = checkBatch(deps, request, body, caller);
    return "status" in checked ? checked : dryRunResponse(checked.request, checked.tenantId, checked.lines);
  }
  return handleBatchPost(deps, request, caller, (body, batchId) => intake(deps, request, body, caller, batchId));
}

/** What every batch-submitting route needs before its own checks: the partner's rate, the body's size, Idempotency-Key. */
export type BatchPostDeps = Pick<ImportPostDeps, "limits" | "retryAfterSeconds" | "rateLimit" | "idempotency" | "log">;

/**
 * A batch submission of any kind (POST /api/imports, POST /api/deregistrations): Idempotency-Key,
 * the partner's rate limit and the body's size, then `intake` validates, records and answers
 * (202, or a refusal). A request with a key is rate-limited only once it holds the key, so a retry
 * of an accepted request always gets its original answer, never a 429.
 */
export async function handleBatchPost(
  deps: BatchPostDeps,
  request: AppRequest,
  caller: Caller,
  intake: (body: Buffer, batchId?: string) => Promise<AppResponse>,
): Promise<AppResponse> {
  const keyProblem = idempotencyKeyProblem(request);
  if (keyProblem) return keyProblem;
  const keyHeader = readIdempotencyKey(request.headers.get(IDEMPOTENCY_KEY_HEADER));
  if (keyHeader.kind !== "key" || !deps.idempotency) {
    // Refused before the body is read: a limited partner's uploads cost nothing.
    const limited = await takeRate(deps, caller);
    if (limited) return limited;
    const body = await readBody(deps, request);
    return Buffer.isBuffer(body) ? intake(body) : body;
  }

  const body = await readBody(deps, request);
  if (!Buffer.isBuffer(body)) return body;
  let admission: Admission;
  try {
    admission = await admitWithKey(
      { ...deps.idempotency, retryAfterSeconds: deps.retryAfterSeconds },
      caller.partnerId,
      keyHeader.key,
      requestFingerprint(request.url.search, body),
    );
  } catch (error) {
    deps.log.error("Idempotency-Key could not be recorded", { partnerId: caller.partnerId, reason: errorMessage(error) });
    return storageUnavailable(deps.retryAfterSeconds);
  }
  if (admission.kind === "respond") return admission.response;
  let response: AppResponse | undefined;
  try {
    response = (await takeRate(deps, caller)) ?? (await intake(body, admission.batchId));
    return response;
  } finally {
    // Anything but a 202 (a 429 included) gives the key up again.
    await admission
      .finish(response)
      .catch((error: unknown) =>
        deps.log.error("Idempotency-Key outcome not recorded", { partnerId: caller.partnerId, reason: errorMessage(error) }),
      );
  }
}

function idempotencyKeyProblem(request: AppRequest): AppResponse | undefined {
  if (readIdempotencyKey(request.headers.get(IDEMPOTENCY_KEY_HEADER)).kind !== "invalid") return undefined;
  return problemResponse(
    problem(
      ProblemType.invalidIdempotencyKey,
      400,
      "Invalid Idempotency-Key",
      "Idempotency-Key must be 1 to 255 printable ASCII characters, e.g. a UUID, quoted or bare.",
    ),
  );
}

/** The 429 (or 503) that refuses the request, or nothing when the partner may go ahead. */
async function takeRate(deps: BatchPostDeps, caller: Caller): Promise<AppResponse | undefined> {
  let rate: RateDecision | undefined;
  try {
    rate = await deps.rateLimit?.takeIntake(caller.partnerId);
  } catch (error) {
    deps.log.error("intake rate limit unavailable", { partnerId: caller.partnerId, reason: errorMessage(error) });
    return storageUnavailable(deps.retryAfterSeconds);
  }
  return rate && !rate.allowed ? rateLimited(rate.retryAfterMs) : undefined;
}

async function readBody(deps: BatchPostDeps, request: AppRequest): Promise<Buffer | AppResponse> {
  const declaredLength = Number(request.headers.get("content-length") ?? "0");
  const body = declaredLength > deps.limits.maxBodyBytes ? "too-large" : await request.readBody(deps.limits.maxBodyBytes);
  if (body !== "too-large") return body;
  return problemResponse(
    problem(
      ProblemType.bodyTooLarge,
      413,
      "Request body too large",
      `The body must not exceed ${deps.limits.maxBodyBytes} bytes; split the batch.`,
      {
        maxBodyBytes: deps.limits.maxBodyBytes,
      },
    ),
  );
}

type CheckedBatch = Extract<ParseOutcome, { ok: true }> & { tenantId: string };

/** Every check of a submission, with nothing recorded: the batch ready to submit, or the refusal. */
function checkBatch(deps: ImportPostDeps, request: AppRequest, body: Buffer, caller: Caller): CheckedBatch | AppResponse {
  const parsed = parseImportRequest(
    { contentType: request.headers.get("content-type") ?? undefined, body, query: request.url.searchParams },
    deps.limits,
  );
  if (!parsed.ok) return problemResponse(parsed.problem);

  const target = checkTarget(deps, parsed.request, caller);
  return "status" in target ? target : { ...parsed, tenantId: target.tenantId };
}

/**
 * The tenant a batch acts on (its own, or DEFAULT_TENANT_ID), refused (403) unless the partner may
 * act on it, and its callbackUrl's host: the checks every kind of batch makes after its body is valid.
 */
export function checkTarget(
  deps: Pick<ImportPostDeps, "defaultTenantId" | "webhookAllowedHosts">,
  request: { tenantId?: string; callbackUrl?: string },
  caller: Caller,
): { tenantId: string } | AppResponse {
  const tenantId = request.tenantId ?? deps.defaultTenantId;
  if (!tenantId) {
    return problemResponse(
      problem(
        ProblemType.validation,
        400,
        "Validation failed",
        "The batch names no tenantId and the service has no DEFAULT_TENANT_ID; nothing was done.",
        {
          errors: [{ field: "tenantId", message: "required: the Entra tenant to act on" }],
        },
      ),
    );
  }
  if (!mayImportInto(caller, tenantId)) return tenantNotAllowed(tenantId);
  const callbackProblem = request.callbackUrl ? callbackUrlProblem(request.callbackUrl, deps.webhookAllowedHosts ?? []) : undefined;
  if (callbackProblem) return problemResponse(validationProblem([{ field: "callbackUrl", message: callbackProblem }]));
  return { tenantId };
}

async function intake(deps: ImportPostDeps, request: AppRequest, body: Buffer, caller: Caller, batchId?: string): Promise<AppResponse> {
  const checked = checkBatch(deps, request, body, caller);
  if ("status" in checked) return checked;
  const { tenantId } = checked;

  let accepted;
  try {
    accepted = await submitBatch(
      deps,
      { ...checked.request, tenantId, partnerId: caller.partnerId, ...(batchId ? { batchId } : {}) },
      checked.source,
      checked.lines,
    );
  } catch (error) {
    deps.log.error("intake could not record the batch", { reason: errorMessage(error) });
    return storageUnavailable(deps.retryAfterSeconds);
  }
  return acceptedResponse({ batchId: accepted.batchId, tenantId, deviceCount: accepted.deviceCount }, deps.retryAfterSeconds);
}

function rateLimited(retryAfterMs: number): AppResponse {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return problemResponse(
    problem(
      ProblemType.rateLimited,
      429,
      "Too many requests",
      `This partner's intake rate limit is reached; send the batch again in ${seconds} s.`,
      {
        retryAfterSeconds: seconds,
      },
    ),
    { "retry-after": String(seconds) },
  );
}
