import type { GraphResult } from "../graph/graphClient.js";

/** What a failed Graph call means for the device. */
export type GraphFailure =
  | { kind: "transient"; retryAfterMs?: number; errorCode: string; errorMessage: string }
  | { kind: "permanent"; errorCode: string; errorMessage: string };

/**
 * Graph's own guidance: 429, 503 and 504 are worth retrying (after Retry-After), other 5xx
 * cautiously, and so are timeouts and dropped connections; 4xx are the request's own fault
 * and will fail the same way again.
 */
export function classifyFailure(result: Exclude<GraphResult<unknown>, { kind: "ok" }>): GraphFailure {
  if (result.kind === "network-error") {
    return { kind: "transient", errorCode: "NetworkError", errorMessage: result.message };
  }
  const errorCode = result.code ?? `HTTP${result.status}`;
  const errorMessage = result.message ?? `Graph answered HTTP ${result.status}`;
  if (result.status === 408 || result.status === 429 || result.status >= 500) {
    return { kind: "transient", errorCode, errorMessage, ...(result.retryAfterMs === undefined ? {} : { retryAfterMs: result.retryAfterMs }) };
  }
  return { kind: "permanent", errorCode, errorMessage };
}
