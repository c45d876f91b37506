import type { PartnerStore } from "../../auth/partnerStore.js";
import { parseApiKey } from "../../auth/apiKeys.js";

export const DEMO_PARTNER_ID = "demo";
/**
 * The development host's fixed key, so the README's curl lines work as written. It is public by
 * design: only `npm start` registers it (override with DEV_PARTNER_API_KEY), never the Functions host.
 */
export const DEFAULT_DEV_API_KEY = "apimp_0000000000000001_local-development-only-key-never-in-azure-0";

/** Registers the demo partner and its key unless they exist (a persistent storage account keeps them). */
export async function seedDemoPartner(partners: PartnerStore, tenants: readonly string[], apiKey: string): Promise<void> {
  const parsed = parseApiKey(apiKey);
  if (!parsed) throw new Error("DEV_PARTNER_API_KEY is not shaped like an API key: apimp_<16 hex>_<43 base64url characters>");
  if (!(await partners.getPartner(DEMO_PARTNER_ID))) await partners.createPartner({ partnerId: DEMO_PARTNER_ID, tenants });
  if (!(await partners.getKey(parsed.keyId))) await partners.issueKey(DEMO_PARTNER_ID, apiKey);
}
