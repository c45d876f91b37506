import type { PartnerStore } from "./partnerStore.js";
import { apiKeyMatches, parseApiKey } from "./apiKeys.js";
import type { Caller } from "./caller.js";
import { readCredential } from "./credentials.js";

/** Checks an Entra ID access token; answers the calling app's id, or why the token was refused. */
export interface TokenVerifier {
  verify(token: string): Promise<{ ok: true; appId: string } | { ok: false; reason: string }>;
}

export type Authentication =
  | { ok: true; caller: Caller }
  /** `missing`: no credential at all; `invalid`: one was presented and refused (RFC 6750 `invalid_token`). */
  | { ok: false; failure: "missing" | "invalid"; reason: string };

export interface AuthenticatorDeps {
  partners: Pick<PartnerStore, "getKey" | "getPartner" | "partnerForApp">;
  /** Absent when Entra ID tokens are not configured: then only API keys are accepted. */
  tokens?: TokenVerifier;
}

export class Authenticator {
  constructor(private readonly deps: AuthenticatorDeps) {}

  async authenticate(headers: { get(name: string): string | null }): Promise<Authentication> {
    const credential = readCredential(headers);
    switch (credential.kind) {
      case "none":
        return { ok: false, failure: "missing", reason: "no credential" };
      case "malformed":
        return { ok: false, failure: "invalid", reason: "Authorization is not a Bearer credential" };
      case "api-key":
        return this.byApiKey(credential.key);
      case "token":
        return this.byToken(credential.token);
    }
  }

  private async byApiKey(presented: string): Promise<Authentication> {
    const parsed = parseApiKey(presented);
    if (!parsed) return invalid("not an API key of this service");
    const key = await this.deps.partners.getKey(parsed.keyId);
    // The hash is compared even for a revoked key, so both refusals take the same time.
    const matches = key !== undefined && apiKeyMatches(parsed.key, key.hash);
    if (!key || !matches || key.revokedAt) return invalid("unknown or revoked API key");
    return this.callerFor(key.partnerId, "api-key");
  }

  private async byToken(token: string): Promise<Authentication> {
    if (!this.deps.tokens) return invalid("bearer tokens are not accepted here; use an API key");
    const verified = await this.deps.tokens.verify(token);
    if (!verified.ok) return invalid(verified.reason);
    const partnerId = await this.deps.partners.partnerForApp(verified.appId);
    if (!partnerId) return invalid("the token's application is not registered to a partner");
    return this.callerFor(partnerId, "entra-id");
  }

  private async callerFor(partnerId: string, via: Caller["via"]): Promise<Authentication> {
    const partner = await this.deps.partners.getPartner(partnerId);
    if (!partner) return invalid("the credential's partner no longer exists");
    return { ok: true, caller: { partnerId, tenants: partner.tenants, via } };
  }
}

function invalid(reason: string): Authentication {
  return { ok: false, failure: "invalid", reason };
}
