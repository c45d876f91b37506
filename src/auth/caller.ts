/**
 * Who is calling: the partner an authenticated request acts for. Every partner route receives
 * one (runHttpFunction authenticates before the handler runs), and every batch it touches must
 * belong to `partnerId`.
 */
export interface Caller {
  partnerId: string;
  /** Tenants this partner may import into (tenant GUIDs or domain names, compared case-insensitively). */
  tenants: readonly string[];
  via: "api-key" | "entra-id";
}

/** Whether the caller may import into the tenant. Tenant ids and domain names are case-insensitive in Entra. */
export function mayImportInto(caller: Pick<Caller, "tenants">, tenantId: string): boolean {
  const wanted = tenantId.trim().toLowerCase();
  return caller.tenants.some((tenant) => tenant.trim().toLowerCase() === wanted);
}
