import { decodeJwt } from "./jwt.js";

/**
 * Who is calling, read from the bearer token as Graph reads an Entra ID token: tenant from
 * `tid`, app from `appid` (v1 tokens) or `azp` (v2), permissions from `roles` (application)
 * or `scp` (delegated).
 */
export interface Principal {
  tenantId: string;
  appId: string;
  permissions: ReadonlySet<string>;
}

export const READ_WRITE_PERMISSION = "DeviceManagementServiceConfig.ReadWrite.All";
export const READ_PERMISSION = "DeviceManagementServiceConfig.Read.All";

// Entra issues Graph tokens with either the resource URI or Graph's application id as audience.
const GRAPH_AUDIENCES = new Set(["https://graph.microsoft.com", "https://graph.microsoft.com/", "00000003-0000-0000-c000-000000000000"]);

export type SimulatedAuthentication = { ok: true; principal: Principal } | { ok: false; message: string };

/**
 * @param signingKey the HS256 key to verify with, or undefined to accept unsigned claims.
 * @param nowMs wall-clock time: tokens are minted on real time, so expiry is judged on it
 *   even when the simulator runs on an injected clock.
 */
export function authenticate(authorization: string | undefined, signingKey: string | undefined, nowMs: number): SimulatedAuthentication {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
  if (!match) return { ok: false, message: "Access token is empty." };

  const decoded = decodeJwt(match[1]!, signingKey);
  if (!decoded.ok) return { ok: false, message: `Access token validation failure: ${decoded.reason}.` };
  const claims = decoded.claims;

  if (typeof claims.aud !== "string" || !GRAPH_AUDIENCES.has(claims.aud)) {
    return { ok: false, message: "Access token validation failure. Invalid audience." };
  }
  const nowSeconds = nowMs / 1000;
  if (typeof claims.exp !== "number" || claims.exp <= nowSeconds) {
    return { ok: false, message: "Lifetime validation failed, the token is expired." };
  }
  if (typeof claims.nbf === "number" && claims.nbf > nowSeconds + 300) {
    return { ok: false, message: "Lifetime validation failed, the token is not yet valid." };
  }
  const tenantId = claims.tid;
  const appId = typeof claims.appid === "string" ? claims.appid : claims.azp;
  if (typeof tenantId !== "string" || tenantId === "") return { ok: false, message: "Access token validation failure: no tenant (tid)." };
  if (typeof appId !== "string" || appId === "") return { ok: false, message: "Access token validation failure: no application (appid)." };

  const permissions = new Set<string>();
  if (Array.isArray(claims.roles)) for (const r of claims.roles) if (typeof r === "string") permissions.add(r);
  if (typeof claims.scp === "string") for (const s of claims.scp.split(" ")) if (s) permissions.add(s);

  return { ok: true, principal: { tenantId, appId, permissions } };
}

export function mayWrite(principal: Principal): boolean {
  return principal.permissions.has(READ_WRITE_PERMISSION);
}

export function mayRead(principal: Principal): boolean {
  return principal.permissions.has(READ_WRITE_PERMISSION) || principal.permissions.has(READ_PERMISSION);
}
