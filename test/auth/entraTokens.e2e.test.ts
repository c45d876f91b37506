import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { functionDefinitions } from "../../src/app/functionDefinitions.js";
import { ProblemType } from "../../src/http/problem.js";
import { makeCsv, makeDevices } from "../support/devices.js";
import { startPipeline, TENANT_A, TENANT_B, type Pipeline } from "../support/pipeline.js";

/**
 * Microsoft Entra ID access tokens, for real: the test serves its own JWKS over HTTP, signs tokens
 * with jose, and the app (configured with that JWKS URL, an issuer and an audience) validates them
 * on every partner route.
 */
const HOME_TENANT = "cafecafe-0000-4000-8000-00000000cafe";
const ISSUER = `https://login.microsoftonline.com/${HOME_TENANT}/v2.0`;
const V1_ISSUER = `https://sts.windows.net/${HOME_TENANT}/`;
const AUDIENCE = "api://autopilot-import";
const PARTNER_APP = "0e0e0e0e-1111-4222-8333-444444444444";
const UNKNOWN_APP = "dddddddd-1111-4222-8333-444444444444";

let jwks: Server;
let jwksRequests = 0;
let signing: { privateKey: CryptoKey; kid: string };
let stranger: { privateKey: CryptoKey };
let pipeline: Pipeline;
let batchId: string;

beforeAll(async () => {
  const [published, other] = [await generateKeyPair("RS256"), await generateKeyPair("RS256")];
  signing = { privateKey: published.privateKey, kid: "key-1" };
  stranger = { privateKey: other.privateKey };
  const jwk: JWK = { ...(await exportJWK(published.publicKey)), kid: signing.kid, alg: "RS256", use: "sig" };
  jwks = createServer((req, res) => {
    jwksRequests++;
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => jwks.listen(0, "127.0.0.1", resolve));
  const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/discovery/v2.0/keys`;

  pipeline = await startPipeline({
    definitions: functionDefinitions.filter((d) => d.kind === "http"),
    env: { ENTRA_AUDIENCE: AUDIENCE, ENTRA_ISSUERS: `${ISSUER}, ${V1_ISSUER}`, ENTRA_JWKS_URL: jwksUrl },
  });
  await pipeline.services.partners.createPartner({ partnerId: "enterprise", tenants: [TENANT_B], appIds: [PARTNER_APP] });
});
afterAll(async () => {
  await pipeline?.stop();
  await new Promise((resolve) => jwks?.close(resolve));
});

interface TokenOptions {
  key?: CryptoKey;
  kid?: string;
  issuer?: string;
  audience?: string;
  expiresIn?: string | number;
  claims?: Record<string, unknown>;
}

function token(options: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ azp: PARTNER_APP, tid: HOME_TENANT, ver: "2.0", ...options.claims })
    .setProtectedHeader({ alg: "RS256", kid: options.kid ?? signing.kid, typ: "JWT" })
    .setIssuer(options.issuer ?? ISSUER)
    .setAudience(options.audience ?? AUDIENCE)
    .setIssuedAt(now - 60)
    .setNotBefore(now - 60)
    .setExpirationTime(options.expiresIn ?? now + 3_600)
    .sign(options.key ?? signing.privateKey);
}

const bearer = (jwt: string) => ({ authorization: `Bearer ${jwt}` });

function post(headers: Record<string, string>) {
  return fetch(`${pipeline.api}/imports?tenantId=${TENANT_B}`, {
    method: "POST",
    headers: { ...headers, "content-type": "text/csv" },
    body: makeCsv(makeDevices(1, "ENTRA")),
  });
}

describe("Entra ID bearer tokens", () => {
  it("accept a valid token as the partner its app id is registered to, on every partner route", async () => {
    const jwt = await token();
    const created = await post(bearer(jwt));
    expect(created.status).toBe(202);
    batchId = ((await created.json()) as { id: string }).id;
    expect((await fetch(`${pipeline.api}/imports/${batchId}`, { headers: bearer(jwt) })).status).toBe(200);
    expect((await fetch(`${pipeline.api}/imports/${batchId}/devices`, { headers: bearer(jwt) })).status).toBe(200);
    // the batch belongs to the partner, whichever credential it used
    expect((await pipeline.services.store.readBatch(batchId))?.partnerId).toBe("enterprise");
    // and the partner's tenant scope applies to tokens too
    const elsewhere = await fetch(`${pipeline.api}/imports?tenantId=${TENANT_A}`, {
      method: "POST",
      headers: { ...bearer(jwt), "content-type": "text/csv" },
      body: makeCsv(makeDevices(1, "ENTRA-A")),
    });
    expect(elsewhere.status).toBe(403);
  });

  it("accept a v1.0 token whose app is in appid, from a listed v1 issuer", async () => {
    const jwt = await token({ issuer: V1_ISSUER, claims: { azp: undefined, appid: PARTNER_APP, ver: "1.0" } });
    expect((await fetch(`${pipeline.api}/imports/${batchId}`, { headers: bearer(jwt) })).status).toBe(200);
  });

  it.each<[string, () => Promise<string>, RegExp]>([
    ["expired", () => token({ expiresIn: Math.floor(Date.now() / 1000) - 600 }), /token expired/],
    ["for another audience", () => token({ audience: "api://someone-else" }), /claim 'aud'/],
    [
      "from another issuer",
      () => token({ issuer: "https://login.microsoftonline.com/00000000-0000-4000-8000-000000000bad/v2.0" }),
      /claim 'iss'/,
    ],
    ["signed by another key under the published kid", () => token({ key: stranger.privateKey }), /signature not valid/],
    ["signed by a key the JWKS does not have", () => token({ key: stranger.privateKey, kid: "key-unknown" }), /signature not valid/],
    ["of an app registered to no partner", () => token({ claims: { azp: UNKNOWN_APP } }), /not registered to a partner/],
    ["naming no app", () => token({ claims: { azp: undefined } }), /names no application/],
  ])("refuse a token %s with 401 invalid_token", async (_, make, why) => {
    const logged = pipeline.logs.length;
    const jwt = await make();
    const response = await fetch(`${pipeline.api}/imports/${batchId}`, { headers: bearer(jwt) });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toContain('error="invalid_token"');
    const text = await response.text();
    expect(JSON.parse(text).type).toBe(ProblemType.unauthorized);
    // refused for the reason the case is about, and the token is neither echoed nor logged
    const refusals = pipeline.logs.slice(logged).filter((l) => l.message.includes("not authenticated"));
    expect(refusals.map((l) => l.fields?.reason)).toEqual([expect.stringMatching(why)]);
    expect(text + JSON.stringify(refusals)).not.toContain(jwt.split(".")[2]);
  });

  it("refuse an unsigned token", async () => {
    const header = Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url");
    const claims = Buffer.from(
      JSON.stringify({ iss: ISSUER, aud: AUDIENCE, azp: PARTNER_APP, exp: Math.floor(Date.now() / 1000) + 600 }),
    ).toString("base64url");
    expect((await fetch(`${pipeline.api}/imports/${batchId}`, { headers: bearer(`${header}.${claims}.`) })).status).toBe(401);
  });

  it("answer 503 with Retry-After, not 401, while the JWKS cannot be fetched", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const deadUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/keys`;
    await new Promise((resolve) => closed.close(resolve));
    const unreachable = await startPipeline({
      definitions: functionDefinitions.filter((d) => d.kind === "http"),
      azurite: pipeline.azurite,
      env: { ENTRA_AUDIENCE: AUDIENCE, ENTRA_ISSUERS: ISSUER, ENTRA_JWKS_URL: deadUrl },
    });
    try {
      const response = await fetch(`${unreachable.api}/imports/${batchId}`, { headers: bearer(await token()) });
      expect(response.status).toBe(503);
      expect(response.headers.get("retry-after")).toBeTruthy();
      // API keys do not depend on the JWKS
      expect((await fetch(`${unreachable.api}/imports`, { headers: unreachable.headers })).status).toBe(200);
    } finally {
      await unreachable.stop();
    }
  });

  it("fetched the signing keys from the JWKS URL", () => {
    expect(jwksRequests).toBeGreaterThanOrEqual(1);
  });
});
