import { createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey } from "jose";
import type { TokenVerifier } from "./authenticate.js";

export interface EntraTokenOptions {
  /** The API's application id URI or client id, as the token's `aud`. */
  audience: string;
  /** Accepted `iss` values, e.g. https://login.microsoftonline.com/<tenant>/v2.0. */
  issuers: readonly string[];
  jwksUrl: string;
}

/** Clock skew tolerated on exp/nbf between Entra ID and this host. */
const CLOCK_TOLERANCE_S = 60;

/**
 * Validates Microsoft Entra ID access tokens with jose: RS256 signature against the issuer's
 * JWKS (fetched, cached and refetched on an unknown `kid` by jose), issuer, audience, expiry and
 * not-before. The calling application is `azp` (v2.0 tokens) or `appid` (v1.0 tokens); the
 * Authenticator maps it to a partner.
 */
export function entraTokenVerifier(
  options: EntraTokenOptions,
  keys: JWTVerifyGetKey = createRemoteJWKSet(new URL(options.jwksUrl)),
): TokenVerifier {
  return {
    async verify(token) {
      try {
        const { payload } = await jwtVerify(token, keys, {
          issuer: [...options.issuers],
          audience: options.audience,
          algorithms: ["RS256"],
          requiredClaims: ["exp"],
          clockTolerance: CLOCK_TOLERANCE_S,
        });
        const appId = typeof payload.azp === "string" ? payload.azp : typeof payload.appid === "string" ? payload.appid : undefined;
        if (!appId) return { ok: false, reason: "token names no application (azp/appid)" };
        return { ok: true, appId: appId.toLowerCase() };
      } catch (error) {
        // A JWKS that cannot be fetched says nothing about the token: let it surface as a server error.
        if (error instanceof errors.JWKSTimeout || !(error instanceof errors.JOSEError)) throw error;
        return { ok: false, reason: refusal(error) };
      }
    },
  };
}

function refusal(error: errors.JOSEError): string {
  if (error instanceof errors.JWTExpired) return "token expired";
  if (error instanceof errors.JWTClaimValidationFailed) return `token claim '${error.claim}' not accepted`;
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWSSignatureVerificationFailed)
    return "token signature not valid";
  return `token not valid (${error.code})`;
}
