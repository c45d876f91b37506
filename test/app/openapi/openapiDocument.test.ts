import { describe, expect, it } from "vitest";
import { functionDefinitions } from "../../../src/app/functionDefinitions.js";
import type { HttpFunctionDefinition } from "../../../src/app/functionTypes.js";
import { ProblemType } from "../../../src/http/problem.js";
import { buildOpenApiDocument, PROBLEM_SCHEMA_REF } from "../../../src/app/openapi/document.js";
import { renderReferencePage } from "../../../src/app/openapi/referencePage.js";
import { batchViewSchema } from "../../../src/status/viewSchemas.js";
import { checkOpenApi31 } from "../../support/openApiCheck.js";
import { validateJson } from "../../support/jsonSchema.js";

const http = functionDefinitions.filter((d): d is HttpFunctionDefinition => d.kind === "http");
const doc = buildOpenApiDocument(http, { routePrefix: "api", version: "test" });

describe("the OpenAPI document", () => {
  it("is structurally valid OpenAPI 3.1", () => {
    expect(checkOpenApi31(doc)).toEqual([]);
  });

  it("the checker itself catches what a broken document gets wrong", () => {
    const broken = structuredClone(doc) as Record<string, any>;
    delete broken.info.version;
    broken.paths["/api/imports/{id}"].get.parameters = [];
    broken.paths["/api/imports"].get.responses["200"].description = undefined;
    broken.paths["/api/imports"].get.security = [{ nope: [] }];
    const problems = checkOpenApi31(broken);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining("info.version"),
        expect.stringContaining("path template {id} has no parameter"),
        expect.stringContaining("responses.200: description required"),
        expect.stringContaining("undefined security scheme 'nope'"),
      ]),
    );
  });

  it("documents every HTTP function, method by method, and nothing else", () => {
    const operations = Object.values(doc.paths).flatMap((item) => Object.values(item));
    expect(operations.filter((op) => op["x-undocumented"]).map((op) => op.operationId)).toEqual([]);
    expect(operations.map((op) => op.operationId).sort()).toEqual(http.flatMap((d) => d.methods.map(() => d.name)).sort());
  });

  it("takes the request body from the intake's own zod schemas, and declares CSV", () => {
    const body = doc.paths["/api/imports"]!.post!.requestBody as { content: Record<string, { schema: any }> };
    const schemas = (doc.components as any).schemas;
    expect(body.content["application/json"]!.schema.oneOf).toHaveLength(2);
    expect(schemas.ImportRequest.required).toEqual(["devices"]);
    expect(schemas.ImportDevice.required).toEqual(["serialNumber", "hardwareIdentifier"]);
    expect(schemas.GraphImportRequest.required).toEqual(["importedWindowsAutopilotDeviceIdentities"]);
    expect(Object.keys(body.content)).toEqual(expect.arrayContaining(["text/csv", "application/csv"]));
  });

  it("declares partner routes secured by API key or bearer, with a 401 problem; public routes need nothing", () => {
    expect(doc.security).toEqual([{ apiKey: [] }, { bearer: [] }]);
    const schemes = (doc.components as any).securitySchemes;
    expect(schemes.apiKey).toMatchObject({ type: "apiKey", in: "header", name: "x-api-key" });
    expect(schemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
    for (const d of http) {
      const op = doc.paths[`/api/${d.route}`.replace(/\{(\w+)[^}]*\}/g, "{$1}")]![d.methods[0]!.toLowerCase()]!;
      if (d.access === "partner") {
        expect(op.security, d.name).toBeUndefined();
        expect(JSON.stringify(op.responses["401"]), d.name).toContain(ProblemType.unauthorized);
      } else expect(op.security, d.name).toEqual([]);
    }
  });

  it("refers every error to the one Problem schema, and names the problem types each can carry", () => {
    const retry409 = doc.paths["/api/imports/{id}/retry"]!.post!.responses["409"] as any;
    expect(retry409["x-problem-types"]).toEqual([ProblemType.batchStillRunning, ProblemType.batchCanceled, ProblemType.nothingToRetry]);
    expect(retry409.description).toContain(ProblemType.nothingToRetry);
    const errorSchemas = Object.values(doc.paths)
      .flatMap((item) => Object.values(item))
      .flatMap((op) => Object.entries(op.responses).filter(([status]) => Number(status) >= 400))
      .map(([, response]) => (response as any).content?.["application/problem+json"]?.schema);
    expect(errorSchemas.length).toBeGreaterThan(20);
    for (const schema of errorSchemas) expect(schema).toEqual({ $ref: PROBLEM_SCHEMA_REF });
    const sample = { type: ProblemType.nothingToRetry, title: "Nothing to retry", status: 409, detail: "No failure a retry can cure." };
    expect(validateJson(sample, { $ref: PROBLEM_SCHEMA_REF }, doc)).toEqual([]);
    expect(validateJson({ ...sample, status: "409" }, { $ref: PROBLEM_SCHEMA_REF }, doc)).not.toEqual([]);
    const problem = (doc.components as any).schemas.Problem;
    expect(problem.properties.detail["x-ms-primary-error-message"]).toBe(true);
  });

  it("names what partners hold as components, referenced rather than inlined", () => {
    const schemas = (doc.components as any).schemas as Record<string, any>;
    for (const name of [
      "ImportRequest",
      "GraphImportRequest",
      "ImportDevice",
      "AcceptedBatch",
      "Batch",
      "BatchCounts",
      "BatchPage",
      "Device",
      "DevicePage",
      "Problem",
    ]) {
      expect(schemas[name], name).toBeDefined();
    }
    const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
    const body = (doc.paths["/api/imports"]!.post!.requestBody as any).content["application/json"].schema;
    expect(body.oneOf).toEqual([ref("ImportRequest"), ref("GraphImportRequest")]);
    expect(schemas.ImportRequest.properties.devices.items).toEqual(ref("ImportDevice"));
    expect(schemas.GraphImportRequest.properties.importedWindowsAutopilotDeviceIdentities.items).toEqual(ref("ImportDevice"));
    expect(schemas.Batch.properties.counts).toEqual(ref("BatchCounts"));
    expect(schemas.DevicePage.properties.value.items).toEqual(ref("Device"));
    const json = (path: string, method: string, status: string) =>
      (doc.paths[path]![method]!.responses[status] as any).content["application/json"].schema;
    expect(json("/api/imports", "post", "202")).toEqual(ref("AcceptedBatch"));
    expect(json("/api/imports/{id}", "get", "200")).toEqual(ref("Batch"));
    expect(json("/api/imports", "get", "200")).toEqual(ref("BatchPage"));
    expect(json("/api/imports/{id}/devices", "get", "200")).toEqual(ref("DevicePage"));
  });

  it("gives generators a usable server URL", () => {
    const servers = doc.servers as { url: string; variables?: Record<string, { default: string }> }[];
    expect(servers[0]!.url).toBe("http://localhost:7071");
    expect(servers[1]).toMatchObject({ url: "{baseUrl}", variables: { baseUrl: { default: "http://localhost:7071" } } });
  });

  it("validates a real batch view with the document's schema, and rejects a wrong one", () => {
    const schema = (doc.paths["/api/imports/{id}"]!.get!.responses["200"] as any).content["application/json"].schema;
    const view = batchViewSchema.parse({
      id: "6f1c1c9e-3c9f-4d5e-9b7a-0a1b2c3d4e5f",
      status: "canceled",
      tenantId: "t",
      source: "json",
      deviceCount: 2,
      counts: { queued: 0, retrying: 0, submitted: 0, imported: 1, failed: 0, canceled: 1 },
      followUntil: "profileAssigned",
      onExisting: "update",
      profiles: { waiting: 0, assigned: 1, notAssigned: 0 },
      createdAt: "2026-11-29T01:00:00.000Z",
      updatedAt: "2026-11-29T01:00:01.000Z",
      hashCheck: "on",
      deviceModels: [{ manufacturer: "Contoso", model: "Surface Laptop 7", count: 1 }, { count: 1 }],
      links: { self: "/a", devices: "/b", failures: "/c" },
    });
    expect(validateJson(view, schema, doc)).toEqual([]);
    expect(validateJson({ ...view, status: "done" }, schema, doc)).not.toEqual([]);
    expect(validateJson({ ...view, followUntil: "enrolled" }, schema, doc)).not.toEqual([]);
    expect(validateJson({ ...view, counts: { ...view.counts, canceled: undefined } }, schema, doc)).not.toEqual([]);
    expect(validateJson({ ...view, deviceModels: [{ model: "no count" }] }, schema, doc)).not.toEqual([]);
  });

  it("renders a reference page that names every operation and escapes what it shows", () => {
    const html = renderReferencePage(doc, "/api/openapi.json");
    for (const op of Object.values(doc.paths).flatMap((item) => Object.values(item))) expect(html).toContain(`id="op-${op.operationId}"`);
    expect(html).not.toMatch(/<script|https?:\/\/(?!autopilot-import\.dev|spec\.openapis|json-schema)/);
    const hostile = buildOpenApiDocument(http, { routePrefix: "api", version: "<script>alert(1)</script>" });
    expect(renderReferencePage(hostile, "/x")).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
  });
});
