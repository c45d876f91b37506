import { describe, expect, it } from "vitest";
import { SIMULATOR_SIGNING_KEY } from "../../../src/graph/devCredential.js";
import type { GraphSimulator } from "../../../src/dev/simulator/index.js";
import { signHs256 } from "../../../src/dev/simulator/jwt.js";
import {
  APP_1,
  COLLECTION,
  device,
  GraphCaller,
  intuneMessageOf,
  ManualClock,
  TENANT_A,
  type GraphErrorJson,
  useSimulatorPerTest,
} from "./simulatorHarness.js";

// How Intune words its errors, as seen on real tenants (facts sheet, observed section): 403
// "Forbidden", `message` as a JSON document in a string, some 429s without Retry-After
// (IntuneCD issue #217). Each test would fail against errors worded as the docs and Entra do.

const GUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
const FORBIDDEN_TEXT =
  "Application is not authorized to perform this operation. Application must have one of the following scopes: " +
  "DeviceManagementServiceConfig.ReadWrite.All, DeviceManagementServiceConfig.Read.All";
const CORRELATION = "0f0e0d0c-0b0a-4909-8807-060504030201";
const SYNC = "/beta/deviceManagement/windowsAutopilotSettings/sync";

const setup = useSimulatorPerTest();

function readOnlyToken(): string {
  const now = Math.floor(Date.now() / 1000);
  return signHs256(
    {
      aud: "https://graph.microsoft.com",
      tid: TENANT_A,
      appid: APP_1,
      roles: ["DeviceManagementServiceConfig.Read.All"],
      iat: now,
      exp: now + 3600,
    },
    SIMULATOR_SIGNING_KEY,
  );
}

async function errorOf(res: Response): Promise<GraphErrorJson> {
  return (await res.json()) as GraphErrorJson;
}

function escaped(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

describe("observed: Intune's 403 Forbidden", () => {
  it("says Forbidden and which scopes are needed, wrapped with Operation ID, Activity ID and the URL called", async () => {
    const { sim } = await setup();
    const url = `${sim.url}${COLLECTION}`;
    const res = await fetch(url, {
      method: "POST",
      headers: { Authorization: `Bearer ${readOnlyToken()}`, "Content-Type": "application/json", "client-request-id": CORRELATION },
      body: JSON.stringify(device()),
    });
    expect(res.status).toBe(403);
    const body = await errorOf(res);
    expect(body.error.code).toBe("Forbidden");
    const inner = intuneMessageOf(body);
    expect(inner).toEqual({
      _version: 3,
      Message: expect.any(String),
      CustomApiErrorPhrase: "",
      RetryAfter: null,
      ErrorSourceService: "",
      HttpHeaders: "{}",
    });
    expect(inner.Message).toMatch(
      new RegExp(
        `^${escaped(FORBIDDEN_TEXT)} - Operation ID \\(for customer support\\): ${GUID} - Activity ID: ${CORRELATION} - Url: ${escaped(url)} - CustomApiErrorPhrase: $`,
      ),
    );
    expect(sim.creates).toHaveLength(0);
  });

  it("is a plain string with the same trace when wrapIntuneMessages is false", async () => {
    const { sim } = await setup({ wrapIntuneMessages: false });
    const url = `${sim.url}${COLLECTION}/some-id`;
    const forbidden = await fetch(url, {
      method: "DELETE",
      headers: { Authorization: `Bearer ${readOnlyToken()}`, "client-request-id": CORRELATION },
    });
    const body = await errorOf(forbidden);
    expect(body.error.code).toBe("Forbidden");
    expect(body.error.message).toMatch(
      new RegExp(
        `^${escaped(FORBIDDEN_TEXT)} - Operation ID \\(for customer support\\): ${GUID} - Activity ID: ${CORRELATION} - Url: ${escaped(url)}$`,
      ),
    );
  });

  it("is the code of an injected 403 that names none", async () => {
    const { sim, a } = await setup();
    sim.injectFaults({ kind: "status", status: 403, times: 1 });
    expect((await errorOf(await a.request("GET", COLLECTION))).error.code).toBe("Forbidden");
  });
});

describe("observed: Intune's error message is a JSON document in a string", () => {
  it.each<[string, (a: GraphCaller, sim: GraphSimulator, clock: ManualClock) => Promise<Response>, number, string]>([
    ["a create body that fails validation", (a) => a.create(device({ color: "blue" })), 400, "BadRequest"],
    [
      "an import action body that fails validation",
      (a) =>
        a.request("POST", `${COLLECTION}/import`, { importedWindowsAutopilotDeviceIdentities: [device({ hardwareIdentifier: "%%" })] }),
      400,
      "BadRequest",
    ],
    [
      "a create body that is not JSON",
      (a, sim) =>
        fetch(`${sim.url}${COLLECTION}`, {
          method: "POST",
          headers: { Authorization: `Bearer ${a.token}`, "Content-Type": "application/json" },
          body: "{",
        }),
      400,
      "BadRequest",
    ],
    ["an unknown item", (a) => a.request("GET", `${COLLECTION}/00000000-0000-0000-0000-000000000000`), 404, "ResourceNotFound"],
    [
      "a sync while one runs",
      async (a) => {
        await a.request("POST", SYNC);
        return a.request("POST", SYNC);
      },
      409,
      "Conflict",
    ],
    [
      "a sync within the cooldown",
      async (a, _sim, clock) => {
        await a.request("POST", SYNC);
        clock.advance(60_000);
        return a.request("POST", SYNC);
      },
      429,
      "TooManyRequests",
    ],
    [
      "an injected 503",
      (a, sim) => {
        sim.injectFaults({ kind: "status", status: 503, times: 1 });
        return a.create(device());
      },
      503,
      "ServiceUnavailable",
    ],
    [
      "an injected 429",
      (a, sim) => {
        sim.injectFaults({ kind: "status", status: 429, times: 1 });
        return a.create(device());
      },
      429,
      "TooManyRequests",
    ],
    [
      "an injected 504 after the service succeeded",
      (a, sim) => {
        sim.injectFaults({ kind: "succeedThenFail", times: 1 });
        return a.create(device());
      },
      504,
      "GatewayTimeout",
    ],
  ])("for %s", async (_, send, status, code) => {
    const { sim, a, clock } = await setup();
    const res = await send(a, sim, clock);
    expect(res.status).toBe(status);
    const body = await errorOf(res);
    expect(body.error.code).toBe(code);
    const inner = intuneMessageOf(body);
    expect(inner._version).toBe(3);
    expect(inner.Message).toMatch(
      new RegExp(
        ` - Operation ID \\(for customer support\\): ${GUID} - Activity ID: ${GUID} - Url: ${escaped(sim.url)}/.* - CustomApiErrorPhrase: $`,
      ),
    );
    expect(inner.Message.split(" - Operation ID")[0]!.length).toBeGreaterThan(0);
  });

  it("keeps the readable text first, and the headers a fault rule gives", async () => {
    const { sim, a } = await setup();
    sim.injectFaults({ kind: "status", status: 503, retryAfterSeconds: 7, times: 1 });
    const res = await a.create(device());
    expect(res.headers.get("retry-after")).toBe("7");
    expect(intuneMessageOf(await errorOf(res)).Message).toMatch(/^Injected fault\. - Operation ID/);
    const missing = await errorOf(await a.request("GET", `${COLLECTION}/no-such-id`));
    expect(intuneMessageOf(missing).Message).toMatch(
      /^No importedWindowsAutopilotDeviceIdentity with id 'no-such-id' exists in this tenant\. - Operation ID/,
    );
  });

  it.each<[string, (a: GraphCaller, sim: GraphSimulator) => Promise<Response>, number]>([
    ["a missing token (401)", (_, sim) => fetch(`${sim.url}${COLLECTION}`), 401],
    [
      "an injected 401",
      (a, sim) => {
        sim.injectFaults({ kind: "status", status: 401, times: 1 });
        return a.request("GET", COLLECTION);
      },
      401,
    ],
    ["an unknown segment (400)", (a) => a.request("GET", "/v1.0/deviceManagement/somethingElse"), 400],
    ["sync on v1.0 (400)", (a) => a.request("POST", "/v1.0/deviceManagement/windowsAutopilotSettings/sync"), 400],
    ["an unknown version (404)", (a) => a.request("GET", "/v2.0/deviceManagement/importedWindowsAutopilotDeviceIdentities"), 404],
    ["a wrong method (405)", (a) => a.request("PATCH", `${COLLECTION}/x`, {}), 405],
  ])("leaves the gateway's message plain for %s", async (_, send, status) => {
    const { sim, a } = await setup();
    const res = await send(a, sim);
    expect(res.status).toBe(status);
    const message = (await errorOf(res)).error.message;
    expect(message.startsWith("{")).toBe(false);
    expect(message).not.toContain("Operation ID");
  });
});

describe("observed: some throttling 429s come without Retry-After (IntuneCD #217)", () => {
  const oneWrite = { windowMs: 20_000, perAppPerTenant: 1, perTenant: 10 };

  it("omits it from every third throttling 429 by default, and keeps the message plain", async () => {
    const { a } = await setup({ throttle: oneWrite });
    expect((await a.create(device())).status).toBe(201);
    const refused: Response[] = [];
    for (let i = 0; i < 6; i++) refused.push(await a.create(device()));
    expect(refused.map((r) => r.status)).toEqual(Array(6).fill(429));
    expect(refused.map((r) => r.headers.get("retry-after") !== null)).toEqual([true, true, false, true, true, false]);
    const bare = await errorOf(refused[2]!);
    expect(bare.error.code).toBe("TooManyRequests");
    expect(bare.error.message).toBe("Too many requests from this application in this tenant.");
  });

  it("follows retryAfterOmittedEvery, 0 meaning never", async () => {
    const every2 = await setup({ throttle: oneWrite, retryAfterOmittedEvery: 2 });
    await every2.a.create(device());
    const headers: boolean[] = [];
    for (let i = 0; i < 4; i++) headers.push((await every2.a.create(device())).headers.has("retry-after"));
    expect(headers).toEqual([true, false, true, false]);
    await every2.sim.stop();

    const never = await setup({ throttle: oneWrite, retryAfterOmittedEvery: 0 });
    await never.a.create(device());
    for (let i = 0; i < 4; i++) expect((await never.a.create(device())).headers.get("retry-after")).toBe("20");
  });

  it("leaves an injected 429 exactly as its rule says", async () => {
    const { sim, a } = await setup();
    sim.injectFaults({ kind: "status", status: 429, retryAfterSeconds: 5, times: 3 });
    for (let i = 0; i < 3; i++) expect((await a.create(device())).headers.get("retry-after")).toBe("5");
    sim.injectFaults({ kind: "status", status: 429, times: 1 });
    expect((await a.create(device())).headers.has("retry-after")).toBe(false);
  });
});
