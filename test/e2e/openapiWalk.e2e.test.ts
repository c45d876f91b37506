import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeCsv, makeDevices } from "../support/devices.js";
import { validateJson } from "../support/jsonSchema.js";
import { checkOpenApi31 } from "../support/openApiCheck.js";
import { startPipeline, TENANT_A, waitForBatch, type Pipeline } from "../support/pipeline.js";

/**
 * Walks the served OpenAPI document: every path and method is called on the running
 * development host (against Azurite and the Graph simulator), for success and for the errors
 * it declares, and every answer must be a declared status and media type, with a JSON body
 * that validates against the document's own schema for it.
 */
type Doc = { paths: Record<string, Record<string, Operation>> } & Record<string, unknown>;
type Operation = {
  operationId: string;
  security?: unknown[];
  parameters?: { name: string; in: string }[];
  responses: Record<string, { content?: Record<string, { schema: Record<string, unknown> }>; "x-problem-types"?: string[] }>;
};

let pipeline: Pipeline;
let doc: Doc;
const exercised = new Map<string, Set<number>>();

beforeAll(async () => {
  pipeline = await startPipeline({ env: { RETRY_MAX_ATTEMPTS: "2" } });
  const response = await fetch(`${pipeline.api}/openapi.json`);
  expect(response.status).toBe(200);
  doc = (await response.json()) as Doc;
});
afterAll(async () => pipeline?.stop());

function operation(method: string, path: string): Operation {
  const op = doc.paths[path]?.[method];
  if (!op) throw new Error(`the document has no ${method.toUpperCase()} ${path}`);
  return op;
}

/** Calls one documented operation and holds the answer to the document. */
async function call(
  method: string,
  path: string,
  options: {
    params?: Record<string, string>;
    query?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    auth?: boolean;
  } = {},
): Promise<{ status: number; body: unknown; text: string }> {
  const op = operation(method, path);
  const target = path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(options.params?.[name] ?? ""));
  const url = new URL(`${target}${options.query ? `?${options.query}` : ""}`, pipeline.api);
  const response = await fetch(url, {
    method: method.toUpperCase(),
    headers: { ...(options.auth === false ? {} : pipeline.headers), ...options.headers },
    ...(options.body === undefined ? {} : { body: options.body }),
  });
  const text = await response.text();
  const where = `${method.toUpperCase()} ${url.pathname}${url.search} → ${response.status}`;
  const declared = op.responses[String(response.status)];
  expect(declared, `${where} is not a declared status: ${text.slice(0, 300)}`).toBeDefined();
  const mediaType = (response.headers.get("content-type") ?? "").split(";")[0]!.trim();
  const content = declared!.content ?? {};
  if (Object.keys(content).length === 0) {
    // A response declared without content (204) has none.
    expect(text, `${where}: a body where the document declares none`).toBe("");
  } else expect(Object.keys(content), `${where}: undeclared media type ${mediaType}`).toContain(mediaType);
  let body: unknown = text;
  if (mediaType.endsWith("json")) {
    body = JSON.parse(text);
    expect(validateJson(body, content[mediaType]!.schema, doc), `${where}: body does not match the document`).toEqual([]);
    if (mediaType === "application/problem+json")
      expect(declared!["x-problem-types"], `${where}: undeclared problem type`).toContain((body as { type: string }).type);
  }
  const seen = exercised.get(op.operationId) ?? new Set<number>();
  exercised.set(op.operationId, seen.add(response.status));
  return { status: response.status, body, text };
}

async function submit(devices = makeDevices(1, `W${Date.now()}`)): Promise<string> {
  const { status, body } = await call("post", "/api/imports", {
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ tenantId: TENANT_A, devices }),
  });
  expect(status).toBe(202);
  return (body as { id: string }).id;
}

describe("the served OpenAPI document", () => {
  it("is valid OpenAPI 3.1 and browsable", async () => {
    expect(checkOpenApi31(doc)).toEqual([]);
    await call("get", "/api/openapi.json", { auth: false });
    const page = await call("get", "/api/docs", { auth: false });
    for (const op of Object.values(doc.paths).flatMap((item) => Object.values(item)))
      expect(page.text).toContain(`id="op-${op.operationId}"`);
  });

  it("matches what the server does, for every path and method", async () => {
    // A finished batch with a failure no retry cures (806), and one with a failure a retry cures.
    const devices = makeDevices(3, "WALK");
    pipeline.simulator.registerDevice(TENANT_A, { serialNumber: devices[2]!.serialNumber });
    const finished = await submit(devices);
    const flaky = makeDevices(1, "WALKFLAKY");
    pipeline.simulator.injectFaults({
      kind: "status",
      status: 500,
      times: 2,
      match: { method: "POST", serialNumber: flaky[0]!.serialNumber },
    });
    const retryable = await submit(flaky);
    await waitForBatch(pipeline, finished);
    await waitForBatch(pipeline, retryable);
    const unknown = randomUUID();

    // POST /api/imports: JSON, Graph's shape, CSV; then each documented refusal.
    await call("post", "/api/imports", {
      query: `tenantId=${TENANT_A}`,
      headers: { "content-type": "application/json", "idempotency-key": `walk-${randomUUID()}` },
      body: JSON.stringify({ importedWindowsAutopilotDeviceIdentities: makeDevices(1, "WALKGRAPH") }),
    });
    await call("post", "/api/imports", {
      query: `tenantId=${TENANT_A}`,
      headers: { "content-type": "text/csv" },
      body: makeCsv(makeDevices(2, "WALKCSV")),
    });
    expect((await call("post", "/api/imports", { headers: { "content-type": "application/json" }, body: '{"devices": [' })).status).toBe(
      400,
    );
    expect(
      (
        await call("post", "/api/imports", {
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ devices: [{ serialNumber: "X" }] }),
        })
      ).status,
    ).toBe(400);
    expect((await call("post", "/api/imports", { headers: { "content-type": "text/plain" }, body: "hello" })).status).toBe(415);
    const dry = await call("post", "/api/imports", {
      query: `tenantId=${TENANT_A}&dryRun=true`,
      headers: { "content-type": "text/csv" },
      body: makeCsv(makeDevices(2, "WALKDRY")),
    });
    expect(dry.status).toBe(200);
    expect(
      (
        await call("post", "/api/imports", {
          query: "dryRun=maybe",
          headers: { "content-type": "text/csv" },
          body: makeCsv(makeDevices(1, "WALKDRY")),
        })
      ).status,
    ).toBe(400);
    expect(
      (
        await call("post", "/api/imports", {
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ tenantId: "dddddddd-0000-4000-8000-00000000000d", devices: makeDevices(1, "WALKT") }),
        })
      ).status,
    ).toBe(403);

    // GET /api/imports
    expect((await call("get", "/api/imports", { query: "pageSize=1" })).status).toBe(200);
    expect((await call("get", "/api/imports", { query: "status=partially_succeeded&createdAfter=2020-01-01T00:00:00Z" })).status).toBe(200);
    expect((await call("get", "/api/imports", { query: "pageSize=1000" })).status).toBe(400);

    // GET /api/imports/{id} and its devices, JSON and CSV.
    expect((await call("get", "/api/imports/{id}", { params: { id: finished } })).status).toBe(200);
    expect((await call("get", "/api/imports/{id}/devices", { params: { id: finished }, query: "pageSize=2" })).status).toBe(200);
    expect((await call("get", "/api/imports/{id}/devices", { params: { id: finished }, headers: { accept: "text/csv" } })).status).toBe(
      200,
    );
    expect((await call("get", "/api/imports/{id}/devices", { params: { id: finished }, query: "status=lost" })).status).toBe(400);

    // Retry: nothing retryable (806 only), then the retryable one, then while it runs.
    expect((await call("post", "/api/imports/{id}/retry", { params: { id: finished } })).status).toBe(409);
    expect((await call("post", "/api/imports/{id}/retry", { params: { id: retryable } })).status).toBe(202);
    const runningAgain = await call("post", "/api/imports/{id}/retry", { params: { id: retryable } });
    expect(runningAgain.status).toBe(409);
    // Erase: refused while the batch runs (its retried device's next attempt is at least a second away).
    expect((await call("delete", "/api/imports/{id}", { params: { id: retryable } })).status).toBe(409);

    // Cancel: a running batch, then a finished one.
    pipeline.simulator.injectFaults({
      kind: "delay",
      ms: 2_000,
      match: { method: "POST", pathIncludes: "importedWindowsAutopilotDeviceIdentities" },
    });
    try {
      const running = await submit(makeDevices(30, "WALKCANCEL"));
      expect((await call("post", "/api/imports/{id}/cancel", { params: { id: running } })).status).toBe(200);
    } finally {
      pipeline.simulator.clearFaults();
    }
    expect((await call("post", "/api/imports/{id}/cancel", { params: { id: finished } })).status).toBe(409);

    // Deregistrations: JSON and CSV, each refusal, the list, the batch and its devices.
    pipeline.simulator.registerDevice(TENANT_A, { serialNumber: "WALKRET-1" });
    const deregistration = await call("post", "/api/deregistrations", {
      headers: { "content-type": "application/json", "idempotency-key": `walk-${randomUUID()}` },
      body: JSON.stringify({ tenantId: TENANT_A, devices: [{ serialNumber: "WALKRET-1" }, { serialNumber: "WALKRET-2" }] }),
    });
    expect(deregistration.status).toBe(202);
    const returned = (deregistration.body as { id: string }).id;
    expect(
      (
        await call("post", "/api/deregistrations", {
          query: `tenantId=${TENANT_A}`,
          headers: { "content-type": "text/csv" },
          body: "Device Serial Number\r\nWALKRET-3\r\n",
        })
      ).status,
    ).toBe(202);
    expect(
      (
        await call("post", "/api/deregistrations", {
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ tenantId: TENANT_A, devices: [{ serialNumber: "" }] }),
        })
      ).status,
    ).toBe(400);
    expect((await call("post", "/api/deregistrations", { headers: { "content-type": "text/plain" }, body: "WALKRET-1" })).status).toBe(415);
    expect(
      (
        await call("post", "/api/deregistrations", {
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ tenantId: "dddddddd-0000-4000-8000-00000000000d", devices: [{ serialNumber: "WALKRET-1" }] }),
        })
      ).status,
    ).toBe(403);
    expect((await call("get", "/api/deregistrations", { query: "pageSize=1" })).status).toBe(200);
    expect((await call("get", "/api/deregistrations", { query: "pageSize=1000" })).status).toBe(400);
    expect((await call("get", "/api/deregistrations/{id}", { params: { id: returned } })).status).toBe(200);
    expect((await call("get", "/api/deregistrations/{id}/devices", { params: { id: returned } })).status).toBe(200);
    expect((await call("get", "/api/deregistrations/{id}/devices", { params: { id: returned }, query: "status=lost" })).status).toBe(400);
    // The two kinds of batch do not answer for each other.
    expect((await call("get", "/api/deregistrations/{id}", { params: { id: finished } })).status).toBe(404);
    expect((await call("get", "/api/imports/{id}", { params: { id: returned } })).status).toBe(404);

    // The dashboard's page and files.
    expect((await call("get", "/api/dashboard", { auth: false })).status).toBe(200);
    expect((await call("get", "/api/dashboard/{asset}", { params: { asset: "dashboard.js" }, auth: false })).status).toBe(200);
    expect((await call("get", "/api/dashboard/{asset}", { params: { asset: "nope.exe" }, auth: false })).status).toBe(404);

    // Every partner operation: 401 without credentials, and 404 for an id that is not the caller's.
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        if (op.security?.length === 0) continue;
        const params = { id: finished, asset: "dashboard.js" };
        expect(
          (
            await call(method, path, {
              params,
              auth: false,
              headers: { "content-type": "application/json" },
              body: method === "post" ? "{}" : undefined,
            })
          ).status,
        ).toBe(401);
        if (path.includes("{id}")) expect((await call(method, path, { params: { id: unknown } })).status).toBe(404);
      }
    }

    // DELETE /api/imports/{id}: the finished batch is erased, and is not found from then on.
    expect((await call("delete", "/api/imports/{id}", { params: { id: finished } })).status).toBe(204);
    expect((await call("get", "/api/imports/{id}", { params: { id: finished } })).status).toBe(404);
    expect((await call("delete", "/api/imports/{id}", { params: { id: finished } })).status).toBe(404);

    // Every operation was seen to succeed, and every declared status other than the ones
    // this walk cannot provoke on a healthy server was seen.
    const cannotProvoke = new Set([500, 503, 413, 429, 422]);
    for (const op of Object.values(doc.paths).flatMap((item) => Object.values(item))) {
      const seen = exercised.get(op.operationId) ?? new Set();
      expect(
        [...seen].some((s) => s < 300),
        `${op.operationId} never succeeded`,
      ).toBe(true);
      const idempotencyOnly = op.operationId === "createImport" || op.operationId === "createDeregistration" ? [409] : [];
      const missing = Object.keys(op.responses)
        .map(Number)
        .filter((s) => !seen.has(s) && !cannotProvoke.has(s) && !idempotencyOnly.includes(s));
      expect(missing, `${op.operationId}: declared but never seen`).toEqual([]);
    }
  }, 120_000);
});
