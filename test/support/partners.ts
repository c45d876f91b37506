import { randomBytes } from "node:crypto";
import type { Services } from "../../src/app/services.js";

export interface TestPartner {
  partnerId: string;
  apiKey: string;
  /** Headers that authenticate as this partner: spread them into a fetch's headers. */
  headers: Record<string, string>;
  /** The secret its batch-completion webhooks are signed with (whsec_…). */
  webhookSecret: string;
}

/** Registers a partner allowed to import into `tenants` and issues it an API key, through the same store the CLI uses. */
export async function addTestPartner(
  services: Pick<Services, "partners">,
  options: { tenants: readonly string[]; partnerId?: string },
): Promise<TestPartner> {
  const partnerId = options.partnerId ?? `test-${randomBytes(6).toString("hex")}`;
  const { webhookSecret } = await services.partners.createPartner({ partnerId, tenants: options.tenants });
  const { key } = await services.partners.issueKey(partnerId);
  return { partnerId, apiKey: key, headers: { authorization: `Bearer ${key}` }, webhookSecret };
}
