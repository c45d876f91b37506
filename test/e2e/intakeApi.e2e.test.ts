import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { functionDefinitions } from "../../src/app/functionDefinitions.js";
import { PROBLEM_CONTENT_TYPE, ProblemType } from "../../src/http/problem.js";
import { allDevices, startPipeline, type Pipeline } from "../support/pipeline.js";
import { makeCsv, makeDevices, makeHash } from "../support/devices.js";
import { queuedMessages } from "../support/queuedMessages.js";
import { syntheticHash } from "../../src/dev/simulator/syntheticHash.js";

/**
 * The HTTP API through the development host on real Azurite. The worker is left out (HTTP
 * functions only), so what intake wrote and enqueued can be inspected before anything moves it.
 */
let pipeline: Pipeline;

beforeAll(async () => {
  pipeline = await startPipeline({
    definitions: functionDefinitions.filter((d) => d.kind === "http"),
    env: { IMPORT_MAX_DEVICES: "50", IMPORT_MAX_BODY_BYTES: "400000" },
  });
});
afterAll(async () => pipeline?.stop());

const post = (body: string | Buffer, contentType: string, query = "") =>
  fetch(`${pipeline.api}/imports${query}`, { method: "POST", headers: { ...pipeline.headers, "content-type": contentType }, body });

async function queueLength(): Promise<number> {
  return queuedMessages(pipeline.services.storage);
}

async function tableRowCount(): Promise<number> {
  let n = 0;
  for await (const _ of pipeline.services.storage.imports.listEntities({ queryOptions: { select: ["RowKey"] } })) n++;
  return n;
}

describe("POST /api/imports", () => {
  it("accepts a CSV batch with 202, Location and Retry-After, and sends one message per device and one poll", async () => {
    const before = await queueLength();
    const devices = makeDevices(12, "ACC");
    const response = await post(makeCsv(devices, { encoding: "utf16le" }), "text/csv", "?groupTag=Lab&orderIdentifier=PO-9");
    expect(response.status).toBe(202);
    const body = (await response.json()) as { id: string; deviceCount: number; statusUrl: string; tenantId: string };
    expect(body.deviceCount).toBe(12);
    expect(response.headers.get("location")).toBe(`/api/imports/${body.id}`);
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
    // one message per device, and the batch's first poll round
    expect(await queueLength()).toBe(before + 12 + 1);

    const status = await fetch(`${pipeline.api}/imports/${body.id}`, { headers: pipeline.headers });
    expect(status.status).toBe(200);
    const summary = (await status.json()) as Record<string, unknown>;
    expect(summary).toMatchObject({
      id: body.id,
      status: "running",
      deviceCount: 12,
      groupTag: "Lab",
      orderIdentifier: "PO-9",
      source: "csv",
    });
    expect(summary.counts).toMatchObject({ queued: 12, imported: 0, failed: 0 });
    expect(status.headers.get("retry-after")).toBeTruthy();

    const listed = await allDevices(pipeline, body.id);
    expect(listed.map((d) => d.serialNumber)).toEqual(devices.map((d) => d.serialNumber));
    expect(listed.map((d) => d.line)).toEqual(devices.map((_, i) => i + 2));
  });

  it("rejects an invalid batch as a whole: 400 problem+json naming every fault, nothing written or enqueued", async () => {
    const [rows, messages] = [await tableRowCount(), await queueLength()];
    const response = await post(
      JSON.stringify({
        devices: [
          { serialNumber: "OK-1", hardwareIdentifier: makeHash(1) },
          { serialNumber: "", hardwareIdentifier: "%%" },
        ],
      }),
      "application/json",
    );
    expect(response.status).toBe(400);
    expect(response.headers.get("content-type")).toBe(PROBLEM_CONTENT_TYPE);
    const problem = (await response.json()) as { type: string; errors: { device: number; field: string }[] };
    expect(problem.type).toBe(ProblemType.validation);
    expect(problem.errors.map((e) => [e.device, e.field])).toEqual([
      [1, "serialNumber"],
      [1, "hardwareIdentifier"],
    ]);
    expect(await tableRowCount()).toBe(rows);
    expect(await queueLength()).toBe(messages);
  });

  it.each([
    ["too many devices", () => post(makeCsv(makeDevices(51, "MANY")), "text/csv"), 413, ProblemType.tooManyDevices],
    ["a body over the byte limit", () => post(Buffer.alloc(400_001, 0x41), "text/csv"), 413, ProblemType.bodyTooLarge],
    ["an unsupported media type", () => post("<devices/>", "application/xml"), 415, ProblemType.unsupportedMediaType],
    ["malformed JSON", () => post('{"devices": [', "application/json"), 400, ProblemType.malformedBody],
  ])("answers %s with its status and problem type", async (_, send, status, type) => {
    const response = await send();
    expect(response.status).toBe(status);
    expect(response.headers.get("content-type")).toBe(PROBLEM_CONTENT_TYPE);
    expect(((await response.json()) as { type: string }).type).toBe(type);
  });

  it("answers 405 with Allow for a method the route does not take, and 404 for no route", async () => {
    const wrong = await fetch(`${pipeline.api}/imports`, { method: "DELETE", headers: pipeline.headers });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")?.split(/,\s*/).sort()).toEqual(["GET", "POST"]);
    expect((await fetch(`${pipeline.api}/nothing-here`, { headers: pipeline.headers })).status).toBe(404);
  });
});

describe("status", () => {
  it("answers 404 problem+json for an unknown batch, and for its devices", async () => {
    for (const path of [
      "imports/6f1c2f0e-0000-4000-8000-000000000000",
      "imports/6f1c2f0e-0000-4000-8000-000000000000/devices",
      "imports/not-an-id",
    ]) {
      const response = await fetch(`${pipeline.api}/${path}`, { headers: pipeline.headers });
      expect(response.status).toBe(404);
      expect(response.headers.get("content-type")).toBe(PROBLEM_CONTENT_TYPE);
    }
  });

  it("pages devices with nextLink and filters by state", async () => {
    const response = await post(makeCsv(makeDevices(25, "PAGE")), "text/csv");
    const { id } = (await response.json()) as { id: string };
    const first = (await (await fetch(`${pipeline.api}/imports/${id}/devices?pageSize=10`, { headers: pipeline.headers })).json()) as {
      value: unknown[];
      nextLink?: string;
    };
    expect(first.value).toHaveLength(10);
    expect(first.nextLink).toMatch(new RegExp(`^/api/imports/${id}/devices\\?`));
    const all = await allDevices(pipeline, id);
    expect(new Set(all.map((d) => d.index)).size).toBe(25);
    expect(await allDevices(pipeline, id, "status=queued")).toHaveLength(25);
    expect(await allDevices(pipeline, id, "status=failed")).toHaveLength(0);
  });

  it("rejects a bad query with 400 problem+json", async () => {
    const { id } = (await (await post(makeCsv(makeDevices(1, "Q")), "text/csv")).json()) as { id: string };
    for (const query of ["status=done", "pageSize=0", "pageSize=1001", "continuationToken=%7B%7D"]) {
      const response = await fetch(`${pipeline.api}/imports/${id}/devices?${query}`, { headers: pipeline.headers });
      expect(response.status, query).toBe(400);
      expect(response.headers.get("content-type")).toBe(PROBLEM_CONTENT_TYPE);
    }
  });

  it("never returns a hash, product key or user principal name", async () => {
    const device = {
      serialNumber: "PRIV-1",
      hardwareIdentifier: makeHash(77),
      productKey: "PKEY-SECRET-12345",
      assignedUserPrincipalName: "secret.user@contoso.com",
    };
    const { id } = (await (await post(JSON.stringify({ devices: [device] }), "application/json")).json()) as { id: string };
    const texts = [
      await (await fetch(`${pipeline.api}/imports/${id}`, { headers: pipeline.headers })).text(),
      await (await fetch(`${pipeline.api}/imports/${id}/devices`, { headers: pipeline.headers })).text(),
    ];
    expect(texts[0]).toContain(id);
    expect(texts[1]).toContain("PRIV-1");
    for (const text of texts) {
      expect(text).not.toContain(device.hardwareIdentifier.slice(0, 32));
      expect(text).not.toContain("PKEY-SECRET");
      expect(text).not.toContain("secret.user");
    }
  });
});

describe("what the hash tells, through the API", () => {
  it("answers a dry run with each device's model and warnings, recording, enqueueing and keeping nothing (Idempotency-Key included)", async () => {
    const [rows, messages] = [await tableRowCount(), await queueLength()];
    const devices = [
      ...makeDevices(2, "DRY"),
      {
        serialNumber: "DRY-NOTPM",
        hardwareIdentifier: syntheticHash({ serialNumber: "DRY-NOTPM", model: "FB-14", manufacturer: "Fabrikam", tpm: false, seed: 77 }),
      },
    ];
    const key = { "idempotency-key": "dry-run-key-1" };
    const dry = await fetch(`${pipeline.api}/imports?dryRun=true`, {
      method: "POST",
      headers: { ...pipeline.headers, ...key, "content-type": "text/csv" },
      body: makeCsv(devices),
    });
    expect(dry.status).toBe(200);
    expect(await dry.json()).toMatchObject({
      dryRun: true,
      deviceCount: 3,
      hashCheck: "on",
      deviceModels: [
        { manufacturer: "Contoso", model: "Surface Laptop 7", count: 2 },
        { manufacturer: "Fabrikam", model: "FB-14", count: 1 },
      ],
      devices: [
        { index: 0, line: 2, serialNumber: "DRY-00000", manufacturer: "Contoso", model: "Surface Laptop 7" },
        { index: 1, line: 3, serialNumber: "DRY-00001" },
        {
          index: 2,
          line: 4,
          serialNumber: "DRY-NOTPM",
          manufacturer: "Fabrikam",
          warnings: [{ code: "no-tpm", message: expect.stringMatching(/TPM 2\.0/) }],
        },
      ],
    });
    expect([await tableRowCount(), await queueLength()]).toEqual([rows, messages]);

    // The key was not taken: the real submission under it (another query string) is a new batch, not a 422.
    const real = await fetch(`${pipeline.api}/imports`, {
      method: "POST",
      headers: { ...pipeline.headers, ...key, "content-type": "text/csv" },
      body: makeCsv(devices),
    });
    expect(real.status).toBe(202);
    const { id } = (await real.json()) as { id: string };
    const batch = (await (await fetch(`${pipeline.api}/imports/${id}`, { headers: pipeline.headers })).json()) as Record<string, unknown>;
    expect(batch).toMatchObject({
      hashCheck: "on",
      deviceModels: [
        { manufacturer: "Contoso", model: "Surface Laptop 7", count: 2 },
        { manufacturer: "Fabrikam", model: "FB-14", count: 1 },
      ],
    });
    const listed = await allDevices(pipeline, id);
    expect(listed[2]).toMatchObject({ manufacturer: "Fabrikam", model: "FB-14", warnings: [{ code: "no-tpm" }] });
    expect(JSON.stringify(listed)).not.toContain(devices[0]!.hardwareIdentifier.slice(0, 40));
  });

  it("answers a dry run of a broken batch with the same 400 as a submission", async () => {
    const body = JSON.stringify({ devices: [{ serialNumber: "ROW-1", hardwareIdentifier: makeHash(3, 3_000, "HASH-1") }] });
    const [dry, real] = await Promise.all([post(body, "application/json", "?dryRun=true"), post(body, "application/json")]);
    expect([dry.status, real.status]).toEqual([400, 400]);
    expect(await dry.json()).toEqual(await real.json());
  });

  it("shows hashCheck=off on the batch", async () => {
    const response = await post(JSON.stringify({ hashCheck: "off", devices: makeDevices(1, "OFF") }), "application/json");
    const { id } = (await response.json()) as { id: string };
    const batch = (await (await fetch(`${pipeline.api}/imports/${id}`, { headers: pipeline.headers })).json()) as Record<string, unknown>;
    expect(batch).toMatchObject({ hashCheck: "off", deviceModels: [{ count: 1 }] });
  });
});
