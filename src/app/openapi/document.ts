import { z } from "zod";
import type { HttpFunctionDefinition } from "../functionTypes.js";
import { PROBLEM_CONTENT_TYPE, ProblemType } from "../../http/problem.js";
import { componentRef, componentSchemas, refOf } from "./components.js";
import type { JsonSchema, OperationSpec, ResponseSpec } from "./operationSpec.js";
import { operations as documented } from "./operations.js";

export type OpenApiDocument = Record<string, unknown> & { openapi: string; paths: Record<string, Record<string, OperationObject>> };
export type OperationObject = Record<string, unknown> & { operationId: string; responses: Record<string, Record<string, unknown>> };

export const PROBLEM_SCHEMA_REF = componentRef("Problem");
/** On an error response: the problem `type`s it may carry (its schema is the one Problem, so generators make one error class). */
export const PROBLEM_TYPES_EXTENSION = "x-problem-types";

/**
 * A zod schema as the JSON Schema (2020-12, OpenAPI 3.1's dialect) the document embeds: a
 * `$ref` to its component when it is one (components.ts), else inline.
 */
function schemaOf(schema: z.ZodType, io: "input" | "output"): JsonSchema {
  const ref = refOf(schema);
  if (ref) return ref;
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as JsonSchema;
  return rest;
}

function responseObject(spec: ResponseSpec): Record<string, unknown> {
  const content: Record<string, unknown> = {};
  if (spec.json) content["application/json"] = { schema: schemaOf(spec.json, "output") };
  if (spec.csv) content["text/csv"] = { schema: { type: "string", description: spec.csv } };
  for (const [mediaType, schema] of Object.entries(spec.other ?? {})) content[mediaType] = { schema };
  if (spec.problems) content[PROBLEM_CONTENT_TYPE] = { schema: { $ref: PROBLEM_SCHEMA_REF } };
  return {
    description: spec.problems ? `${spec.description} Problem type: ${spec.problems.join(", ")}.` : spec.description,
    ...(spec.problems ? { [PROBLEM_TYPES_EXTENSION]: [...spec.problems] } : {}),
    ...(spec.headers
      ? {
          headers: Object.fromEntries(
            Object.entries(spec.headers).map(([name, h]) => [name, { description: h.description, schema: h.schema }]),
          ),
        }
      : {}),
    ...(Object.keys(content).length ? { content } : {}),
  };
}

/** A query property that is a component (a status filter), wrapped in optional() or default(): its `$ref`. */
function componentOfProperty(schema: z.ZodType | undefined): { $ref: string } | undefined {
  let inner: unknown = schema;
  while (inner instanceof z.ZodOptional || inner instanceof z.ZodDefault) inner = inner.unwrap();
  return inner instanceof z.ZodType ? refOf(inner) : undefined;
}

function parameters(spec: OperationSpec): Record<string, unknown>[] {
  const list: Record<string, unknown>[] = [];
  for (const [name, schema] of Object.entries(spec.pathParams ?? {})) {
    const json = schemaOf(schema, "input");
    list.push({ name, in: "path", required: true, ...(json.description ? { description: json.description } : {}), schema: json });
  }
  const query = spec.query ? (schemaOf(spec.query, "input") as { properties?: Record<string, JsonSchema>; required?: string[] }) : {};
  const queryProperties = { ...(query.properties ?? {}), ...(spec.queryProperties ?? {}) };
  const shape: Record<string, z.ZodType> = spec.query instanceof z.ZodObject ? spec.query.shape : {};
  for (const [name, schema] of Object.entries(queryProperties)) {
    list.push({
      name,
      in: "query",
      required: query.required?.includes(name) ?? false,
      ...(schema.description ? { description: schema.description } : {}),
      schema: componentOfProperty(shape[name]) ?? schema,
    });
  }
  for (const [name, header] of Object.entries(spec.headers ?? {})) {
    list.push({ name, in: "header", required: false, description: header.description, schema: header.schema });
  }
  return list;
}

function operationObject(definition: HttpFunctionDefinition, spec: OperationSpec | undefined): OperationObject {
  if (!spec) {
    return {
      operationId: definition.name,
      summary: definition.name,
      "x-undocumented": true,
      responses: { default: { description: "Not described yet." } },
    };
  }
  const responses: Record<string, Record<string, unknown>> = {};
  for (const [status, response] of Object.entries(spec.responses)) responses[status] = responseObject(response);
  if (definition.access === "partner") {
    responses["401"] = responseObject({
      description: "Missing or unaccepted credentials.",
      problems: [ProblemType.unauthorized],
      headers: { "WWW-Authenticate": { description: "The Bearer challenge (RFC 6750).", schema: { type: "string" } } },
    });
  }
  responses["500"] = responseObject({ description: "Unexpected failure; safe to retry.", problems: [ProblemType.internal] });
  const params = parameters(spec);
  const body = spec.requestBody;
  return {
    operationId: definition.name,
    tags: [spec.tag],
    summary: spec.summary,
    ...(spec.description ? { description: spec.description } : {}),
    ...(params.length ? { parameters: params } : {}),
    ...(body
      ? {
          requestBody: {
            description: body.description,
            required: body.required,
            content: {
              ...(body.json?.length
                ? {
                    "application/json": {
                      schema:
                        body.json.length === 1 ? schemaOf(body.json[0]!, "input") : { oneOf: body.json.map((s) => schemaOf(s, "input")) },
                    },
                  }
                : {}),
              ...Object.fromEntries(Object.entries(body.other ?? {}).map(([mediaType, schema]) => [mediaType, { schema }])),
            },
          },
        }
      : {}),
    ...(definition.access === "anonymous" ? { security: [] } : {}),
    responses,
  };
}

/** "imports/{id:guid}" below "api" → "/api/imports/{id}". */
export function documentPath(routePrefix: string, route: string): string {
  return (
    "/" +
    [routePrefix, route]
      .filter(Boolean)
      .join("/")
      .replace(/\{(\w+)(?::[^}]*)?\??\}/g, "{$1}")
  );
}

/**
 * The OpenAPI 3.1 document of the HTTP functions the app registers: paths, methods and access
 * from the function definitions, everything else from operations.ts, whose schemas are the
 * zod schemas the handlers validate and answer with.
 */
export function buildOpenApiDocument(
  definitions: readonly HttpFunctionDefinition[],
  options: { routePrefix: string; version: string },
  specs: Readonly<Record<string, OperationSpec>> = documented,
): OpenApiDocument {
  const paths: Record<string, Record<string, OperationObject>> = {};
  for (const definition of definitions) {
    const path = (paths[documentPath(options.routePrefix, definition.route)] ??= {});
    for (const method of definition.methods) path[method.toLowerCase()] = operationObject(definition, specs[definition.name]);
  }
  return {
    openapi: "3.1.1",
    info: {
      title: "autopilot-import",
      version: options.version,
      summary: "Imports Windows Autopilot devices into Intune through Microsoft Graph, for partner and OEM order systems.",
      description:
        "Every error is application/problem+json (RFC 9457) with a stable `type`. Lists page with `nextLink`. " +
        "Authenticate with an API key (x-api-key, or Authorization: Bearer) or a Microsoft Entra ID access token.",
    },
    jsonSchemaDialect: "https://spec.openapis.org/oas/3.1/dialect/base",
    // A URL generators can use as their default; `{baseUrl}` for the Function App's own origin.
    servers: [
      { url: "http://localhost:7071", description: "npm start on this machine" },
      {
        url: "{baseUrl}",
        description: "Any deployment",
        variables: { baseUrl: { default: "http://localhost:7071", description: "The origin, e.g. https://<app>.azurewebsites.net" } },
      },
    ],
    security: [{ apiKey: [] }, { bearer: [] }],
    tags: [
      { name: "Imports", description: "Batches of devices and their outcomes." },
      { name: "Deregistrations", description: "Returned, resold or swapped devices removed from a tenant's Windows Autopilot devices." },
      { name: "Reference", description: "This contract." },
      { name: "Dashboard", description: "The ops dashboard." },
    ],
    paths,
    components: {
      schemas: componentSchemas(),
      securitySchemes: {
        apiKey: { type: "apiKey", in: "header", name: "x-api-key", description: "A partner API key." },
        bearer: { type: "http", scheme: "bearer", description: "A partner API key, or a Microsoft Entra ID access token for this API." },
      },
    },
  };
}
