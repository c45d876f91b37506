import { afterEach, describe, expect, it } from "vitest";
import { SimulatorCredential } from "../../../src/graph/devCredential.js";
import { signHs256 } from "../../../src/dev/simulator/jwt.js";
import { startGraphSimulator, type GraphSimulator } from "../../../src/dev/simulator/index.js";
import { SIMULATOR_SIGNING_KEY } from "../../../src/graph/devCredential.js";
import { APP_1, COLLECTION, device, TENANT_A, type GraphErrorJson } from "./simulatorHarness.js";

let sim: GraphSimulator | undefined;
afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return {
    aud: "https://graph.microsoft.com",
    tid: TENANT_A,
    appid: APP_1,
    roles: ["DeviceManagementServiceConfig.ReadWrite.All"],
    iat: now,
    exp: now + 3600,
    ...overrides,
  };
}

function call(method: string, authorization: string | undefined, body?: unknown): Promise<Response> {
  return fetch(`${sim!.url}${COLLECTION}`, {
    method,
    headers: {
      ...(authorization ? { Authorization: authorization } : {}),
      ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

async function expectError(res: Response, status: number, code: string): Promise<void> {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  const body = (await res.json()) as GraphErrorJson;
  expect(body.error.code).toBe(code);
  expect(body.error.message).toBeTruthy();
}

describe("authentication", () => {
  it("accepts the development credential's token and reads tenant and app from it", async () => {
    sim = await startGraphSimulator();
    const token = (
      await new SimulatorCredential({ tenantId: "home", appId: APP_1 }).getToken("https://graph.microsoft.com/.default", {
        tenantId: TENANT_A,
      })
    ).token;
    expect((await call("POST", `Bearer ${token}`, device())).status).toBe(201);
    expect(sim.creates[0]).toMatchObject({ tenantId: TENANT_A, appId: APP_1 });
  });

  it.each([
    ["no Authorization header", undefined],
    ["a non-bearer scheme", "Basic dXNlcjpwYXNz"],
    ["a token that is not a JWT", "Bearer abc"],
    ["a token signed with another key", `Bearer ${signHs256(claims(), "some-other-key")}`],
    ["an expired token", `Bearer ${signHs256(claims({ exp: Math.floor(Date.now() / 1000) - 1 }), SIMULATOR_SIGNING_KEY)}`],
    ["a token for another audience", `Bearer ${signHs256(claims({ aud: "https://storage.azure.com" }), SIMULATOR_SIGNING_KEY)}`],
    ["a token without tid", `Bearer ${signHs256(claims({ tid: undefined }), SIMULATOR_SIGNING_KEY)}`],
    ["an unsigned token", `Bearer ${unsigned(claims())}`],
  ])("answers 401 InvalidAuthenticationToken to %s, and creates nothing", async (_, authorization) => {
    sim = await startGraphSimulator();
    const res = await call("POST", authorization, device());
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer /);
    await expectError(res, 401, "InvalidAuthenticationToken");
    expect(sim.creates).toHaveLength(0);
    expect(sim.requestLog[0]).toMatchObject({ status: 401 });
    expect(sim.requestLog[0]!.tenantId).toBeUndefined();
  });

  it("reads claims unverified when validateTokenSignature is false", async () => {
    sim = await startGraphSimulator({ validateTokenSignature: false });
    expect((await call("GET", `Bearer ${signHs256(claims(), "any-key")}`)).status).toBe(200);
    expect((await call("GET", `Bearer ${unsigned(claims())}`)).status).toBe(200);
    await expectError(await call("GET", "Bearer garbage"), 401, "InvalidAuthenticationToken");
  });

  it("verifies with a custom signing key shared with the credential", async () => {
    sim = await startGraphSimulator({ signingKey: "team-key" });
    const credential = new SimulatorCredential({ tenantId: TENANT_A, appId: APP_1, signingKey: "team-key" });
    const token = (await credential.getToken("https://graph.microsoft.com/.default")).token;
    expect((await call("GET", `Bearer ${token}`)).status).toBe(200);
    await expectError(await call("GET", `Bearer ${signHs256(claims(), SIMULATOR_SIGNING_KEY)}`), 401, "InvalidAuthenticationToken");
  });
});

describe("authorization", () => {
  it("answers Intune's 403 Forbidden to a write without the ReadWrite role", async () => {
    sim = await startGraphSimulator();
    const readOnly = `Bearer ${signHs256(claims({ roles: ["DeviceManagementServiceConfig.Read.All"] }), SIMULATOR_SIGNING_KEY)}`;
    expect((await call("GET", readOnly)).status).toBe(200);
    await expectError(await call("POST", readOnly, device()), 403, "Forbidden");
    expect(sim.creates).toHaveLength(0);
  });

  it("answers Entra's 403 Authorization_RequestDenied with behaviour documented", async () => {
    sim = await startGraphSimulator({ behaviour: "documented" });
    const readOnly = `Bearer ${signHs256(claims({ roles: ["DeviceManagementServiceConfig.Read.All"] }), SIMULATOR_SIGNING_KEY)}`;
    const res = await call("POST", readOnly, device());
    await expectError(res.clone(), 403, "Authorization_RequestDenied");
    expect(((await res.json()) as GraphErrorJson).error.message).toBe("Insufficient privileges to complete the operation.");
  });

  it("refuses reads too without any Autopilot permission, and honours delegated scopes", async () => {
    sim = await startGraphSimulator();
    const none = `Bearer ${signHs256(claims({ roles: [] }), SIMULATOR_SIGNING_KEY)}`;
    await expectError(await call("GET", none), 403, "Forbidden");
    const delegated = `Bearer ${signHs256(claims({ roles: undefined, scp: "openid DeviceManagementServiceConfig.ReadWrite.All" }), SIMULATOR_SIGNING_KEY)}`;
    expect((await call("POST", delegated, device())).status).toBe(201);
  });
});

function unsigned(payload: Record<string, unknown>): string {
  const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  return `${part({ alg: "none", typ: "JWT" })}.${part(payload)}.`;
}
