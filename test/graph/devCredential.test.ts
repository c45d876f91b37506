import { describe, expect, it } from "vitest";
import { SIMULATOR_SIGNING_KEY, SimulatorCredential } from "../../src/graph/devCredential.js";
import { decodeJwt } from "../../src/dev/simulator/jwt.js";

const SCOPE = "https://graph.microsoft.com/.default";

describe("SimulatorCredential", () => {
  it("mints an HS256 token with the claims Graph reads from an app-only token", async () => {
    const before = Math.floor(Date.now() / 1000);
    const token = await new SimulatorCredential({ tenantId: "t-home", appId: "app-1" }).getToken(SCOPE);
    const header = JSON.parse(Buffer.from(token.token.split(".")[0]!, "base64url").toString()) as Record<string, unknown>;
    expect(header).toEqual({ alg: "HS256", typ: "JWT" });

    const decoded = decodeJwt(token.token, SIMULATOR_SIGNING_KEY);
    expect(decoded.ok).toBe(true);
    const claims = (decoded as { claims: Record<string, number> }).claims;
    expect(claims).toMatchObject({
      tid: "t-home",
      appid: "app-1",
      aud: "https://graph.microsoft.com",
      roles: ["DeviceManagementServiceConfig.ReadWrite.All"],
    });
    expect(claims.iat).toBeGreaterThanOrEqual(before);
    expect(claims.exp! - claims.iat!).toBe(3600);
    expect(token.expiresOnTimestamp).toBe(claims.exp! * 1000);
    expect(token.refreshAfterTimestamp).toBeLessThan(token.expiresOnTimestamp);
    expect(token.tokenType).toBe("Bearer");
  });

  it("issues the token for the tenant @azure/identity asks for", async () => {
    const token = await new SimulatorCredential({ tenantId: "t-home", appId: "app-1" }).getToken([SCOPE], { tenantId: "t-customer" });
    expect(decodeJwt(token.token, SIMULATOR_SIGNING_KEY)).toMatchObject({ ok: true, claims: { tid: "t-customer" } });
  });

  it("signs with a custom key when given one", async () => {
    const token = await new SimulatorCredential({ tenantId: "t", appId: "a", signingKey: "k2" }).getToken(SCOPE);
    expect(decodeJwt(token.token, "k2").ok).toBe(true);
    expect(decodeJwt(token.token, SIMULATOR_SIGNING_KEY)).toEqual({ ok: false, reason: "the token signature is invalid" });
  });

  it("refuses scopes of other resources and missing identities", async () => {
    const credential = new SimulatorCredential({ tenantId: "t", appId: "a" });
    await expect(credential.getToken("https://storage.azure.com/.default")).rejects.toThrow(/only issues Microsoft Graph tokens/);
    expect(() => new SimulatorCredential({ tenantId: "", appId: "a" })).toThrow(TypeError);
  });
});
