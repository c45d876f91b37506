import type { AppResponse } from "./types.js";
import { PROBLEM_CONTENT_TYPE, problem, ProblemType, type ProblemDetails } from "./problem.js";

export function json(status: number, body: unknown, headers: Record<string, string> = {}): AppResponse {
  return { status, headers: { "content-type": "application/json; charset=utf-8", ...headers }, body: JSON.stringify(body) };
}

export function problemResponse(details: ProblemDetails, headers: Record<string, string> = {}): AppResponse {
  return { status: details.status, headers: { "content-type": PROBLEM_CONTENT_TYPE, ...headers }, body: JSON.stringify(details) };
}

export function notFound(detail: string): AppResponse {
  return problemResponse(problem(ProblemType.notFound, 404, "Not found", detail));
}

export function storageUnavailable(retryAfterSeconds: number): AppResponse {
  return problemResponse(
    problem(
      ProblemType.storageUnavailable,
      503,
      "Storage unavailable",
      "The request could not be recorded durably, so nothing was accepted. Send it again after the Retry-After delay.",
    ),
    { "retry-after": String(retryAfterSeconds) },
  );
}
