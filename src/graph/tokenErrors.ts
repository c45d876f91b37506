/**
 * Why Entra ID refused to issue a Graph token for a tenant, when retrying cannot help. Azure
 * Identity surfaces the token endpoint's AADSTS code in the error message; anything else (the
 * endpoint unreachable, a timeout, a 5xx) is an outage and stays transient.
 *
 * - consent-required: AADSTS65001 (no consent for the app), AADSTS7000229 (no service principal
 *   for the app in the tenant: nobody consented), AADSTS700016 (the app is not in that
 *   directory: a multi-tenant app nobody consented to there).
 * - tenant-not-found: AADSTS90002 (no such tenant), AADSTS900023 (not a valid tenant id or domain).
 */
export type TenantAccessProblem = "consent-required" | "tenant-not-found";

const PROBLEMS: ReadonlyArray<{ codes: readonly string[]; problem: TenantAccessProblem }> = [
  { codes: ["AADSTS65001", "AADSTS7000229", "AADSTS700016"], problem: "consent-required" },
  { codes: ["AADSTS90002", "AADSTS900023"], problem: "tenant-not-found" },
];

export function classifyTokenError(error: unknown): { problem: TenantAccessProblem; aadsts: string } | undefined {
  const text = error instanceof Error ? `${error.name} ${error.message}` : String(error);
  for (const match of text.matchAll(/\bAADSTS\d+\b/g)) {
    const found = PROBLEMS.find((p) => p.codes.includes(match[0]));
    if (found) return { problem: found.problem, aadsts: match[0] };
  }
  return undefined;
}

/** Where a tenant's admin grants the app its permissions (autopilot-graph-facts.md, Tokens). */
export function adminConsentUrl(tenantId: string, appId: string | undefined): string | undefined {
  if (!appId) return undefined;
  return `https://login.microsoftonline.com/${encodeURIComponent(tenantId)}/adminconsent?client_id=${encodeURIComponent(appId)}`;
}
