import { INTUNE_FORBIDDEN_CODE } from "./intuneErrors.js";

/**
 * Graph's error envelope: `{ error: { code, message, innerError: { date, request-id,
 * client-request-id } } }`. The ids repeat the response headers so a logged body alone is
 * enough to trace a request, which is why clients see them in both places.
 */
export interface GraphErrorBody {
  error: {
    code: string;
    message: string;
    innerError: { date: string; "request-id": string; "client-request-id": string };
  };
}

export interface RequestIds {
  requestId: string;
  clientRequestId: string;
}

export function graphErrorBody(code: string, message: string, ids: RequestIds, at: Date): GraphErrorBody {
  return {
    error: {
      code,
      message,
      // Graph writes the date without fractional seconds.
      innerError: {
        date: at.toISOString().replace(/\.\d{3}Z$/, "Z"),
        "request-id": ids.requestId,
        "client-request-id": ids.clientRequestId,
      },
    },
  };
}

/**
 * The code Graph puts in the body for a bare status, used when a fault rule names none.
 * `intuneForbidden`: a 403 is Intune's "Forbidden" (observed, facts sheet) rather than Entra's
 * "Authorization_RequestDenied".
 */
export function defaultErrorCode(status: number, intuneForbidden = false): string {
  switch (status) {
    case 400:
      return "BadRequest";
    case 401:
      return "InvalidAuthenticationToken";
    case 403:
      return intuneForbidden ? INTUNE_FORBIDDEN_CODE : "Authorization_RequestDenied";
    case 404:
      return "ResourceNotFound";
    case 405:
      return "MethodNotAllowed";
    case 409:
      return "Conflict";
    case 413:
      return "RequestEntityTooLarge";
    case 415:
      return "UnsupportedMediaType";
    case 429:
      return "TooManyRequests";
    case 500:
      return "InternalServerError";
    case 502:
      return "BadGateway";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "GatewayTimeout";
    default:
      return status >= 500 ? "InternalServerError" : "BadRequest";
  }
}
