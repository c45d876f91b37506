import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { functionDefinitions } from "../../src/app/functionDefinitions.js";
import type { HttpFunctionDefinition } from "../../src/app/functionTypes.js";
import { PROBLEM_CONTENT_TYPE, ProblemType } from "../../src/http/problem.js";
import { makeCsv, makeDevices } from "../support/devices.js";
import { addTestPartner, type TestPartner } from "../support/partners.js";
import { startPipeline, TENANT_A, TENANT_B, type Pipeline } from "../support/pipeline.js";

/**
 * Who may call what, through the development host on real Azurite: 401 for missing or wrong
 * credentials on every partner route, 403 outside a partner's tenants, 404 for another partner's
 * batch on every batch route, key rotation and revocation, and the per-partner intake rate limit
 * shared by two instances.
 */
const httpOnly = functionDefinitions.filter((d) => d.kind === "http");
const partnerRoutes = httpOnly.filter((d): d is HttpFunctionDefinition & { access: "partner" } => d.access === "partner");
const batchRoutes = partnerRoutes.filter((d) => d.route.includes("{id}"));

let pipeline: Pipeline;
let other: TestPartner;
let ownBatch: string;
/** A deregistration batch of the owner's: the deregistration routes know only that kind. */
let ownDeregistration: string;

beforeAll(async () => {
  pipeline = await startPipeline({ definitions: httpOnly });
  other = await addTestPartner(pipeline.services, { tenants: [TENANT_B] });
  ownBatch = await submit(pipeline.headers, TENANT_A, "OWN");
  const deregistration = await fetch(`${pipeline.api}/deregistrations`, {
    method: "POST",
    headers: { ...pipeline.headers, "content-type": "application/json" },
    body: JSON.stringify({ tenantId: TENANT_A, devices: [{ serialNumber: "OWN-RETURN-1" }] }),
  });
  expect(deregistration.status).toBe(202);
  ownDeregistration = ((await deregistration.json()) as { id: string }).id;
});
afterAll(async () => pipeline?.stop());

async function submit(headers: Record<string, string>, tenantId: string, prefix: string, api = pipeline.api): Promise<string> {
  const response = await post(headers, tenantId, prefix, api);
  expect(response.status, await response.clone().text()).toBe(202);
  return ((await response.json()) as { id: string }).id;
}

function post(headers: Record<string, string>, tenantId: string, prefix: string, api = pipeline.api) {
  return fetch(`${api}/imports?tenantId=${tenantId}`, {
    method: "POST",
    headers: { ...headers, "content-type": "text/csv" },
    body: makeCsv(makeDevices(2, prefix)),
  });
}

/** One request to a route as a partner would send it, with `{id}` filled in. */
function call(definition: HttpFunctionDefinition, id: string, headers: Record<string, string>) {
  const path = definition.route.replace("{id}", id);
  const method = definition.methods[0]!;
  const body = method === "POST" && !definition.route.includes("{id}") ? makeCsv(makeDevices(1, "CALL")) : undefined;
  return fetch(`${pipeline.api}/${path}`, {
    method,
    headers: { ...headers, ...(body ? { "content-type": "text/csv" } : {}) },
    ...(body ? { body } : {}),
  });
}

async function expectProblem(response: Response, status: number, type: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toBe(PROBLEM_CONTENT_TYPE);
  const body = (await response.json()) as { type: string; status: number };
  expect(body).toMatchObject({ type, status });
  return body;
}

describe("401 on every partner route", () => {
  const unknownKey = `apimp_${"0".repeat(15)}9_${"A".repeat(43)}`;
  it.each([
    ["no credential", {}, 'Bearer realm="autopilot-import"'],
    ["an unknown key", { authorization: `Bearer ${unknownKey}` }, 'Bearer realm="autopilot-import", error="invalid_token"'],
    ["an unknown key in x-api-key", { "x-api-key": unknownKey }, 'Bearer realm="autopilot-import", error="invalid_token"'],
    ["a Basic credential", { authorization: "Basic dXNlcjpwYXNz" }, 'Bearer realm="autopilot-import", error="invalid_token"'],
    [
      "a token while Entra ID is not configured",
      { authorization: "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln" },
      'Bearer realm="autopilot-import", error="invalid_token"',
    ],
  ])("with %s", async (_, headers, challenge) => {
    expect(partnerRoutes.length).toBeGreaterThanOrEqual(3);
    for (const definition of partnerRoutes) {
      const response = await call(definition, ownBatch, headers as Record<string, string>);
      expect(response.headers.get("www-authenticate"), definition.name).toBe(challenge);
      const body = await expectProblem(response, 401, ProblemType.unauthorized);
      expect(JSON.stringify(body)).not.toContain(unknownKey);
    }
  });

  it("accepts the key as a bearer token and as x-api-key", async () => {
    const key = pipeline.partner.apiKey;
    expect((await fetch(`${pipeline.api}/imports/${ownBatch}`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);
    expect((await fetch(`${pipeline.api}/imports/${ownBatch}`, { headers: { "x-api-key": key } })).status).toBe(200);
  });
});

describe("tenancy", () => {
  it("answers 403 for a tenant outside the partner's scope, named or defaulted, and records nothing", async () => {
    const before = (await pipeline.services.storage.deviceQueue.getProperties()).approximateMessagesCount;
    await expectProblem(await post(other.headers, TENANT_A, "FORBID"), 403, ProblemType.tenantNotAllowed);
    // DEFAULT_TENANT_ID is TENANT_A, which this partner may not use either
    const defaulted = await fetch(`${pipeline.api}/imports`, {
      method: "POST",
      headers: { ...other.headers, "content-type": "text/csv" },
      body: makeCsv(makeDevices(1, "DEF")),
    });
    await expectProblem(defaulted, 403, ProblemType.tenantNotAllowed);
    expect((await pipeline.services.storage.deviceQueue.getProperties()).approximateMessagesCount).toBe(before);
    expect(await submit(other.headers, TENANT_B, "ALLOWED")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("answers 404 on every batch route for another partner's batch, exactly as for a batch that does not exist", async () => {
    expect(batchRoutes.length).toBeGreaterThanOrEqual(2);
    const missing = "6f1c2f0e-0000-4000-8000-000000000000";
    for (const definition of batchRoutes) {
      const own = definition.route.startsWith("deregistrations") ? ownDeregistration : ownBatch;
      const foreign = await call(definition, own, other.headers);
      const body = await expectProblem(foreign, 404, ProblemType.notFound);
      const absent = (await (await call(definition, missing, other.headers)).json()) as { title: string; detail: string };
      expect(body.title, definition.name).toBe(absent.title);
      expect(JSON.stringify(body)).not.toContain("OWN-");
      // and the owner still sees it (erasing is tried on a batch of its own, so the others keep theirs)
      const owners = definition.methods.includes("DELETE") ? await submit(pipeline.headers, TENANT_A, "ERASABLE") : own;
      expect((await call(definition, owners, pipeline.headers)).status, definition.name).not.toBe(404);
    }
  });

  it("lists only the caller's own batches", async () => {
    const list = partnerRoutes.find((d) => d.route === "imports" && d.methods.includes("GET"));
    expect(list).toBeDefined();
    const [mine, theirs] = [
      await fetch(`${pipeline.api}/imports`, { headers: pipeline.headers }),
      await fetch(`${pipeline.api}/imports`, { headers: other.headers }),
    ];
    expect([mine.status, theirs.status]).toEqual([200, 200]);
    expect(await mine.text()).toContain(ownBatch);
    expect(await theirs.text()).not.toContain(ownBatch);
  });
});

describe("key rotation", () => {
  it("keeps two keys valid, revokes the oldest on a third, and a revoked key fails at once", async () => {
    const partner = await addTestPartner(pipeline.services, { tenants: [TENANT_A] });
    const status = (key: string) =>
      fetch(`${pipeline.api}/imports/${ownBatch}/devices`, { headers: { "x-api-key": key } }).then((r) => r.status);
    const second = await pipeline.services.partners.issueKey(partner.partnerId);
    // both authenticate (404: the batch is not theirs, but they are who they say)
    expect([await status(partner.apiKey), await status(second.key)]).toEqual([404, 404]);
    const third = await pipeline.services.partners.issueKey(partner.partnerId);
    expect(third.revokedKeyIds).toHaveLength(1);
    expect([await status(partner.apiKey), await status(second.key), await status(third.key)]).toEqual([401, 404, 404]);
    await pipeline.services.partners.revokeKey(partner.partnerId, second.keyId);
    expect([await status(second.key), await status(third.key)]).toEqual([401, 404]);
  });
});

describe("intake rate limit", () => {
  it("answers 429 with Retry-After past the burst, per partner, across two instances sharing storage", async () => {
    const env = { INTAKE_RATE_PER_MINUTE: "6", INTAKE_RATE_BURST: "2" };
    const [one, two] = [
      await startPipeline({ definitions: httpOnly, azurite: pipeline.azurite, env }),
      await startPipeline({ definitions: httpOnly, azurite: pipeline.azurite, env }),
    ];
    try {
      const partner = await addTestPartner(one.services, { tenants: [TENANT_A] });
      const keyed = { ...partner.headers, "idempotency-key": "rl-first" };
      expect((await post(keyed, TENANT_A, "RL1", one.api)).status).toBe(202);
      expect((await post(partner.headers, TENANT_A, "RL2", two.api)).status).toBe(202);
      const refused = await post(partner.headers, TENANT_A, "RL3", one.api);
      const retryAfter = Number(refused.headers.get("retry-after"));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(10);
      await expectProblem(refused, 429, ProblemType.rateLimited);
      expect((await post(partner.headers, TENANT_A, "RL4", two.api)).status).toBe(429);
      // a retry of the accepted request still gets its answer, not a 429
      const replay = await post(keyed, TENANT_A, "RL1", two.api);
      expect([replay.status, replay.headers.get("idempotent-replayed")]).toEqual([202, "true"]);
      // a new keyed request is limited, and gives its key up for the retry after Retry-After
      expect((await post({ ...partner.headers, "idempotency-key": "rl-later" }, TENANT_A, "RL6", one.api)).status).toBe(429);
      expect(await one.services.idempotency.read(partner.partnerId, "rl-later")).toBeUndefined();
      // another partner has its own budget
      expect((await post(one.headers, TENANT_A, "RL5", two.api)).status).toBe(202);
      // reads are not limited
      expect((await fetch(`${one.api}/imports/${ownBatch}`, { headers: pipeline.headers })).status).toBe(200);
    } finally {
      await one.stop();
      await two.stop();
    }
  });
});
