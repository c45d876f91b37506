import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { AccessToken, GetTokenOptions, TokenCredential } from "@azure/core-auth";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { GraphClient, MAX_LIST_PAGES, SYNC_API_VERSION } from "../../src/graph/graphClient.js";

/**
 * The client against a scripted HTTP server on loopback: what it sends (headers, paths) and
 * what it makes of answers real Intune has been seen to give.
 */
interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
}
type Script = (req: Seen, n: number) => { status: number; body?: unknown; headers?: Record<string, string> };

let server: Server;
let baseUrl = "";
let script: Script = () => ({ status: 200, body: {} });
const seen: Seen[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const request = { method: req.method ?? "GET", url: req.url ?? "/", headers: req.headers };
    seen.push(request);
    const answer = script(request, seen.length);
    res.writeHead(answer.status, { "content-type": "application/json", "request-id": `graph-${seen.length}`, ...answer.headers });
    res.end(answer.body === undefined ? "" : JSON.stringify(answer.body));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  seen.length = 0;
});

class CountingCredential implements TokenCredential {
  calls: (GetTokenOptions | undefined)[] = [];
  constructor(private readonly fail?: Error) {}
  async getToken(_scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken> {
    this.calls.push(options);
    if (this.fail) throw this.fail;
    return { token: `token-${this.calls.length}`, expiresOnTimestamp: Date.now() + 3_600_000 };
  }
}

const TENANT = "11111111-2222-3333-4444-555555555555";
const APP = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
const client = (credential: TokenCredential = new CountingCredential()) =>
  new GraphClient({ baseUrl, apiVersion: "v1.0", credential, timeoutMs: 5_000, appId: APP });
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe("GraphClient", () => {
  it("sends a fresh client-request-id with every call and keeps it with Graph's request-id", async () => {
    script = () => ({ status: 201, body: { id: "rec-1", serialNumber: "S1" } });
    const first = await client().createImportedDevice(TENANT, { serialNumber: "S1", hardwareIdentifier: "AAAA" });
    const second = await client().getImportedDevice(TENANT, "rec-1");
    const ids = seen.map((r) => r.headers["client-request-id"]);
    expect(ids[0]).toMatch(GUID);
    expect(ids[1]).toMatch(GUID);
    expect(ids[0]).not.toBe(ids[1]);
    expect(first.trace).toEqual({ clientRequestId: ids[0], requestId: "graph-1" });
    expect(second.trace).toEqual({ clientRequestId: ids[1], requestId: "graph-2" });
  });

  it("gets one fresh token after a 401, passing on the claims of Graph's challenge, and then lets the 401 count", async () => {
    const claims = '{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}';
    script = () => ({
      status: 401,
      body: { error: { code: "InvalidAuthenticationToken", message: "Access token has expired." } },
      headers: { "www-authenticate": `Bearer realm="", error="insufficient_claims", claims="${Buffer.from(claims).toString("base64")}"` },
    });
    const credential = new CountingCredential();
    const result = await client(credential).getImportedDevice(TENANT, "rec-1");
    expect(result).toMatchObject({ kind: "http-error", status: 401, code: "InvalidAuthenticationToken" });
    expect(seen).toHaveLength(2);
    expect(seen.map((r) => r.headers.authorization)).toEqual(["Bearer token-1", "Bearer token-2"]);
    expect(credential.calls[1]).toMatchObject({ tenantId: TENANT, claims });
  });

  it("succeeds when the fresh token is accepted", async () => {
    script = (_req, n) =>
      n === 1
        ? { status: 401, body: { error: { code: "InvalidAuthenticationToken", message: "expired" } } }
        : { status: 200, body: { id: "rec-1" } };
    expect(await client().getImportedDevice(TENANT, "rec-1")).toMatchObject({ kind: "ok", body: { id: "rec-1" } });
  });

  it("reads Intune's inner Message out of the JSON-in-a-string it sends, without the support ids", async () => {
    const inner = {
      _version: 3,
      Message:
        "An internal server error has occurred - Operation ID (for customer support): 0b3c - Activity ID: 7d1f - Url: https://fef.msub02.manage.microsoft.com/x",
      CustomApiErrorPhrase: "",
      RetryAfter: null,
    };
    script = () => ({ status: 500, body: { error: { code: "InternalServerError", message: JSON.stringify(inner) } } });
    expect(await client().getImportedDevice(TENANT, "x")).toMatchObject({
      kind: "http-error",
      status: 500,
      code: "InternalServerError",
      message: "An internal server error has occurred",
    });
  });

  it("keeps a plain error message as it is", async () => {
    script = () => ({
      status: 400,
      body: { error: { code: "BadRequest", message: "Resource not found for the segment 'windowsAutopilotSettings'." } },
    });
    expect(await client().getImportedDevice(TENANT, "x")).toMatchObject({
      message: "Resource not found for the segment 'windowsAutopilotSettings'.",
    });
  });

  it.each([
    ["AADSTS65001: The user or administrator has not consented to use the application", "consent-required"],
    ["AADSTS7000229: The client application is missing service principal in the tenant", "consent-required"],
    ["AADSTS700016: Application with identifier 'x' was not found in the directory 'y'", "consent-required"],
    ["AADSTS90002: Tenant 'nope' not found.", "tenant-not-found"],
  ])("classifies a token refusal (%s) as the tenant's, with the admin-consent link, and sends nothing", async (text, problem) => {
    const result = await client(
      new CountingCredential(new Error(`ClientSecretCredential authentication failed: ${text}\nTrace ID: abc`)),
    ).createImportedDevice(TENANT, { serialNumber: "S", hardwareIdentifier: "AAAA" });
    expect(result).toMatchObject({
      kind: "tenant-access",
      problem,
      adminConsentUrl: `https://login.microsoftonline.com/${TENANT}/adminconsent?client_id=${APP}`,
    });
    expect(result.kind === "tenant-access" && result.message).not.toContain("Trace ID");
    expect(seen).toHaveLength(0);
  });

  it("takes a token endpoint it cannot reach for an outage", async () => {
    const result = await client(new CountingCredential(new Error("getaddrinfo ENOTFOUND login.microsoftonline.com"))).getImportedDevice(
      TENANT,
      "x",
    );
    expect(result).toMatchObject({ kind: "network-error" });
  });

  it("syncs on beta whatever version the rest uses", async () => {
    script = () => ({ status: 204 });
    expect(SYNC_API_VERSION).toBe("beta");
    await client().syncAutopilotSettings(TENANT);
    expect(seen[0]!.url).toBe("/beta/deviceManagement/windowsAutopilotSettings/sync");
  });

  it("ends a walk whose last page links to itself, as complete", async () => {
    const first = "/v1.0/deviceManagement/importedWindowsAutopilotDeviceIdentities?$top=999";
    const second = `${baseUrl}/v1.0/deviceManagement/importedWindowsAutopilotDeviceIdentities?$skiptoken=2`;
    script = (req) =>
      req.url === first
        ? { status: 200, body: { value: [{ id: "a" }], "@odata.nextLink": second } }
        : { status: 200, body: { value: [{ id: "b" }], "@odata.nextLink": second } };
    const ids: string[] = [];
    const walk = await client().walkImportedDevices(TENANT, (records) => ids.push(...records.map((r) => r.id)));
    expect(walk).toMatchObject({ kind: "ok", complete: true, pages: 2 });
    expect(ids).toEqual(["a", "b"]);
  });

  it("ends a walk that loops back to an earlier page, as incomplete", async () => {
    const link = (n: number) => `${baseUrl}/v1.0/deviceManagement/importedWindowsAutopilotDeviceIdentities?$skiptoken=${n}`;
    script = (req) => {
      const n = Number(/skiptoken=(\d+)/.exec(req.url)?.[1] ?? 0);
      return { status: 200, body: { value: [{ id: `r${n}` }], "@odata.nextLink": link(n === 2 ? 1 : n + 1) } };
    };
    const walk = await client().walkImportedDevices(TENANT, () => {});
    expect(walk).toMatchObject({ kind: "ok", complete: false, pages: 3 });
  });

  it("stops a walk whose links never end after MAX_LIST_PAGES pages, as incomplete", async () => {
    script = (req) => {
      const n = Number(/skiptoken=(\d+)/.exec(req.url)?.[1] ?? 0);
      return {
        status: 200,
        body: {
          value: [],
          "@odata.nextLink": `${baseUrl}/v1.0/deviceManagement/importedWindowsAutopilotDeviceIdentities?$skiptoken=${n + 1}`,
        },
      };
    };
    const walk = await client().walkImportedDevices(TENANT, () => {});
    expect(walk).toMatchObject({ kind: "ok", complete: false, pages: MAX_LIST_PAGES });
  });

  it("finds records by serial number trimmed and case-insensitive", async () => {
    script = () => ({
      status: 200,
      body: {
        value: [
          { id: "a", serialNumber: " pf3abc09 " },
          { id: "b", serialNumber: "PF3ABC10" },
        ],
      },
    });
    expect(await client().findImportedDevicesBySerial(TENANT, "PF3ABC09")).toMatchObject({
      kind: "ok",
      body: { complete: true, records: [{ id: "a" }] },
    });
  });

  it("never follows a nextLink off Graph's host", async () => {
    script = () => ({ status: 200, body: { value: [], "@odata.nextLink": "https://evil.example/steal" } });
    expect(await client().walkImportedDevices(TENANT, () => {})).toMatchObject({ kind: "network-error" });
    expect(seen).toHaveLength(1);
  });
});
