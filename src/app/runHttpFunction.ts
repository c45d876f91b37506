import { unauthorized } from "../auth/authProblems.js";
import { problem, ProblemType } from "../http/problem.js";
import { problemResponse, storageUnavailable } from "../http/responses.js";
import type { AppRequest, AppResponse } from "../http/types.js";
import type { HttpFunctionDefinition } from "./functionTypes.js";
import type { Services } from "./services.js";

/** Runs an HTTP definition so that no exception escapes as a bare 500 with a stack trace. */
export async function runHttpFunction(
  definition: HttpFunctionDefinition,
  services: () => Promise<Services>,
  request: AppRequest,
): Promise<AppResponse> {
  let s: Services | undefined;
  try {
    s = await services();
    if (definition.access === "anonymous") return await definition.handle(s, request);
    let authentication;
    try {
      authentication = await s.authenticator.authenticate(request.headers);
    } catch (error) {
      // Keys and partners live in Table storage: while it is unreachable the caller must hear
      // "try again later" (503, Retry-After), as intake's own writes say, not a 500.
      // (An Entra ID token whose issuer's JWKS cannot be fetched lands here too.)
      s.log.warn("credential could not be checked; storage or the token issuer's keys unreachable", { reason: (error as Error).message });
      return storageUnavailable(s.config.statusRetryAfterSeconds);
    }
    if (!authentication.ok) {
      s.log.info("request refused: not authenticated", { reason: `${definition.name}: ${authentication.reason}` });
      return unauthorized(authentication.failure);
    }
    return await definition.handle(s, request, authentication.caller);
  } catch (error) {
    s?.log.error("unhandled error in HTTP function", { reason: (error as Error).message });
    return problemResponse(problem(ProblemType.internal, 500, "Internal error", "The request failed unexpectedly; it is safe to retry."));
  }
}
