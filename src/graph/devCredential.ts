import type { AccessToken, GetTokenOptions, TokenCredential } from "@azure/core-auth";
import { SignJWT } from "jose";

/**
 * DEVELOPMENT-ONLY signing key shared by SimulatorCredential and the Graph simulator. It is
 * public (it is in the source), so a token signed with it proves nothing: it must never be
 * accepted by anything but the local simulator.
 */
export const SIMULATOR_SIGNING_KEY = "autopilot-import-graph-simulator-dev-key-NOT-A-SECRET";

const GRAPH_RESOURCE = "https://graph.microsoft.com";
const TOKEN_LIFETIME_SECONDS = 3600;
// Refresh a little early, as Entra-issued tokens advise, so a request never carries a token
// that expires in flight.
const REFRESH_BEFORE_EXPIRY_SECONDS = 300;

export interface SimulatorCredentialOptions {
  tenantId: string;
  appId: string;
  signingKey?: string;
}

/**
 * A TokenCredential that mints the tokens the Graph simulator accepts, so the app runs its
 * real credential path (GRAPH_CREDENTIAL=simulator) without Entra ID. The tokens have the
 * claims Graph reads from an app-only token: tid, appid, aud and roles.
 */
export class SimulatorCredential implements TokenCredential {
  private readonly tenantId: string;
  private readonly appId: string;
  private readonly signingKey: string;

  constructor(options: SimulatorCredentialOptions) {
    if (!options.tenantId) throw new TypeError("SimulatorCredential: tenantId is required");
    if (!options.appId) throw new TypeError("SimulatorCredential: appId is required");
    this.tenantId = options.tenantId;
    this.appId = options.appId;
    this.signingKey = options.signingKey ?? SIMULATOR_SIGNING_KEY;
  }

  async getToken(scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken> {
    // Refusing non-Graph scopes catches wiring this credential into the wrong client, which
    // would otherwise fail far away with a confusing 401.
    for (const scope of Array.isArray(scopes) ? scopes : [scopes]) {
      if (scope !== GRAPH_RESOURCE && !scope.startsWith(`${GRAPH_RESOURCE}/`)) {
        throw new Error(`SimulatorCredential only issues Microsoft Graph tokens, not '${scope}'`);
      }
    }
    const iat = Math.floor(Date.now() / 1000);
    const exp = iat + TOKEN_LIFETIME_SECONDS;
    // jose signs what the simulator verifies (HS256 over the shared development key), so this
    // shipped module needs nothing from src/dev.
    const token = await new SignJWT({
      // @azure/identity passes the target tenant here for multi-tenant calls.
      tid: options?.tenantId ?? this.tenantId,
      appid: this.appId,
      roles: ["DeviceManagementServiceConfig.ReadWrite.All"],
    })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setAudience(GRAPH_RESOURCE)
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(exp)
      .sign(new TextEncoder().encode(this.signingKey));
    return {
      token,
      tokenType: "Bearer",
      expiresOnTimestamp: exp * 1000,
      refreshAfterTimestamp: (exp - REFRESH_BEFORE_EXPIRY_SECONDS) * 1000,
    };
  }
}
