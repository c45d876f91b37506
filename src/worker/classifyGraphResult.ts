import type { GraphFailureResult } from "../graph/graphClient.js";

/** What a failed Graph call means for the device. */
export type GraphFailure =
  | { kind: "transient"; retryAfterMs?: number; errorCode: string; errorMessage: string }
  | { kind: "permanent"; errorCode: string; errorMessage: string }
  /**
   * The tenant refuses this app as a whole (no consent, no such tenant, Intune's 403): every
   * device of the batch would fail the same way, so they all fail at once instead of each
   * retrying for an hour.
   */
  | { kind: "tenant"; errorCode: string; errorMessage: string };

/**
 * Graph's own guidance: 429, 503 and 504 are worth retrying (after Retry-After), other 5xx
 * cautiously, and so are timeouts and dropped connections; 4xx are the request's own fault
 * and will fail the same way again. A 401 reaches here only after one fresh token.
 */
export function classifyFailure(result: GraphFailureResult, tenantId = "", consentUrl?: string): GraphFailure {
  if (result.kind === "network-error") {
    return { kind: "transient", errorCode: "NetworkError", errorMessage: result.message };
  }
  if (result.kind === "tenant-access") {
    const link = result.adminConsentUrl ?? consentUrl;
    return result.problem === "consent-required"
      ? {
          kind: "tenant",
          errorCode: "TenantConsentRequired",
          errorMessage: `Entra ID issues no token for tenant ${tenantId}: the app has not been granted consent there (${result.message}). An administrator of that tenant must grant admin consent${link ? ` at ${link}` : ""}; then submit the devices again (a retry of this batch does not resend them).`,
        }
      : {
          kind: "tenant",
          errorCode: "TenantNotFound",
          errorMessage: `Entra ID knows no tenant ${tenantId} (${result.message}). Check the batch's tenantId.`,
        };
  }
  const errorCode = result.code ?? `HTTP${result.status}`;
  const errorMessage = result.message ?? `Graph answered HTTP ${result.status}`;
  if (result.status === 408 || result.status === 429 || result.status >= 500) {
    return {
      kind: "transient",
      errorCode,
      errorMessage,
      ...(result.retryAfterMs === undefined ? {} : { retryAfterMs: result.retryAfterMs }),
    };
  }
  if (result.status === 403) {
    return {
      kind: "tenant",
      errorCode,
      errorMessage: `Intune refused the app in tenant ${tenantId}: ${errorMessage} The app needs the application permission DeviceManagementServiceConfig.ReadWrite.All with admin consent${consentUrl ? ` (${consentUrl})` : ""}, and the tenant an active Intune licence; then submit the devices again (a retry of this batch does not resend them).`,
    };
  }
  return { kind: "permanent", errorCode, errorMessage };
}

/**
 * Whether a failed write asks the whole tenant to wait rather than this device to back off: a 429,
 * or a 503 that says for how long (Retry-After; the facts sheet: "503 may carry Retry-After too").
 * Either pauses the tenant's schedule for its Retry-After and counts no failure against the
 * device: an Intune outage of several minutes then delays the batch by its length instead of
 * failing every device whose RETRY_MAX_ATTEMPTS it outlasts. A 503 without Retry-After stays a
 * transient failure of the device, backed off and counted.
 */
export function asksTenantToWait(status: number | undefined, retryAfterMs: number | undefined): boolean {
  return status === 429 || (status === 503 && retryAfterMs !== undefined);
}
