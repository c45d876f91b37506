import { problem, ProblemType } from "../http/problem.js";
import { problemResponse } from "../http/responses.js";
import type { AppResponse } from "../http/types.js";

const REALM = "autopilot-import";

/**
 * 401 with the RFC 6750 challenge. The detail says what to send, never what was sent: a key or
 * token is not echoed, and "unknown" and "revoked" are not told apart.
 */
export function unauthorized(failure: "missing" | "invalid"): AppResponse {
  const challenge = failure === "missing" ? `Bearer realm="${REALM}"` : `Bearer realm="${REALM}", error="invalid_token"`;
  const detail =
    failure === "missing"
      ? "Send an API key (Authorization: Bearer <key>, or x-api-key: <key>) or a Microsoft Entra ID access token."
      : "The API key or access token was not accepted: it is unknown, revoked, expired or not meant for this service.";
  return problemResponse(problem(ProblemType.unauthorized, 401, "Unauthorized", detail), { "www-authenticate": challenge });
}

export function tenantNotAllowed(tenantId: string): AppResponse {
  return problemResponse(
    problem(
      ProblemType.tenantNotAllowed,
      403,
      "Tenant not allowed",
      `This partner may not import into tenant '${tenantId.slice(0, 256)}'; nothing was imported.`,
      {
        tenantId: tenantId.slice(0, 256),
      },
    ),
  );
}
