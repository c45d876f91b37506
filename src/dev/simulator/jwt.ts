import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Compact JWS (RFC 7515) with HS256 only: the one form the simulator and its development
 * credential exchange. Real Graph tokens are RS256 from Entra ID; nothing here is meant to
 * verify those.
 */
export type JwtClaims = Record<string, unknown>;

export type JwtVerification = { ok: true; claims: JwtClaims } | { ok: false; reason: string };

const HEADER = { alg: "HS256", typ: "JWT" } as const;

export function signHs256(claims: JwtClaims, key: string): string {
  const signingInput = `${base64UrlJson(HEADER)}.${base64UrlJson(claims)}`;
  return `${signingInput}.${hmac(signingInput, key)}`;
}

/**
 * Decodes a compact JWT and, when `key` is given, checks its HS256 signature. With no key the
 * claims are read unverified (the simulator's `validateTokenSignature: false`), but the token
 * must still be well formed so a garbage header fails the same way with or without checking.
 */
export function decodeJwt(token: string, key: string | undefined): JwtVerification {
  const parts = token.split(".");
  if (parts.length !== 3) return { ok: false, reason: "the token is not a compact JWT (three dot-separated parts)" };
  const [encodedHeader, encodedPayload, signature] = parts as [string, string, string];

  const header = parseJsonObject(encodedHeader);
  if (!header) return { ok: false, reason: "the token header is not base64url JSON" };
  const claims = parseJsonObject(encodedPayload);
  if (!claims) return { ok: false, reason: "the token payload is not base64url JSON" };

  if (key !== undefined) {
    // Checking alg before the signature closes the "alg: none" downgrade.
    if (header.alg !== "HS256") return { ok: false, reason: `the token is signed with ${String(header.alg)}, not HS256` };
    const expected = Buffer.from(hmac(`${encodedHeader}.${encodedPayload}`, key));
    const actual = Buffer.from(signature);
    if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) {
      return { ok: false, reason: "the token signature is invalid" };
    }
  }
  return { ok: true, claims };
}

function hmac(input: string, key: string): string {
  return createHmac("sha256", key).update(input).digest("base64url");
}

function base64UrlJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value), "utf8").toString("base64url");
}

function parseJsonObject(encoded: string): Record<string, unknown> | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(encoded)) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(encoded, "base64url").toString("utf8"));
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
