import { resolve } from "./jsonSchema.js";
import { errorMessage } from "../../src/model/errorMessage.js";

/**
 * Structural checks of an OpenAPI 3.1 document against the specification's required fields and
 * rules (spec.openapis.org/oas/v3.1.1): what a generator is likely to get wrong. Returns every
 * problem found, with where it is.
 */
const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
const PARAMETER_LOCATIONS = ["query", "header", "path", "cookie"];
const SECURITY_TYPES = ["apiKey", "http", "mutualTLS", "oauth2", "openIdConnect"];
const JSON_TYPES = ["object", "array", "string", "number", "integer", "boolean", "null"];

type Node = Record<string, unknown>;
const isObject = (v: unknown): v is Node => typeof v === "object" && v !== null && !Array.isArray(v);

export function checkOpenApi31(doc: unknown): string[] {
  const problems: string[] = [];
  const fail = (where: string, what: string) => problems.push(`${where}: ${what}`);
  if (!isObject(doc)) return ["document: not an object"];
  if (typeof doc.openapi !== "string" || !/^3\.1\.\d+$/.test(doc.openapi)) fail("openapi", "must be a 3.1.x version string");
  const info = doc.info;
  if (!isObject(info)) fail("info", "required object");
  else {
    if (typeof info.title !== "string" || !info.title) fail("info.title", "required string");
    if (typeof info.version !== "string" || !info.version) fail("info.version", "required string");
  }
  if (!("paths" in doc) && !("components" in doc) && !("webhooks" in doc)) fail("document", "needs paths, components or webhooks");
  if (doc.jsonSchemaDialect !== undefined && (typeof doc.jsonSchemaDialect !== "string" || !/^https?:\/\//.test(doc.jsonSchemaDialect)))
    fail("jsonSchemaDialect", "must be a URI");

  const components = isObject(doc.components) ? doc.components : {};
  const schemes = isObject(components.securitySchemes) ? components.securitySchemes : {};
  for (const [name, scheme] of Object.entries(schemes)) {
    const where = `components.securitySchemes.${name}`;
    if (!isObject(scheme) || !SECURITY_TYPES.includes(scheme.type as string)) {
      fail(where, "type must be one of " + SECURITY_TYPES.join(", "));
      continue;
    }
    if (scheme.type === "apiKey" && (typeof scheme.name !== "string" || !["query", "header", "cookie"].includes(scheme.in as string)))
      fail(where, "apiKey needs name and in");
    if (scheme.type === "http" && typeof scheme.scheme !== "string") fail(where, "http needs scheme");
  }
  const checkSecurity = (where: string, security: unknown) => {
    if (security === undefined) return;
    if (!Array.isArray(security)) return fail(where, "must be an array");
    for (const requirement of security) {
      if (!isObject(requirement)) fail(where, "each requirement must be an object");
      else for (const name of Object.keys(requirement)) if (!(name in schemes)) fail(where, `names undefined security scheme '${name}'`);
    }
  };
  checkSecurity("security", doc.security);

  const checkSchema = (where: string, schema: unknown, depth = 0): void => {
    if (typeof schema === "boolean") return;
    if (!isObject(schema)) return fail(where, "a schema must be an object or boolean");
    if (depth > 30) return;
    if (typeof schema.$ref === "string") {
      try {
        resolve(doc, schema.$ref);
      } catch (error) {
        fail(where, errorMessage(error));
      }
    }
    const types = schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type : [schema.type];
    for (const t of types) if (!JSON_TYPES.includes(t as string)) fail(where, `unknown type '${String(t)}'`);
    if (schema.required !== undefined && (!Array.isArray(schema.required) || schema.required.some((r) => typeof r !== "string")))
      fail(where, "required must be an array of strings");
    if (schema.enum !== undefined && (!Array.isArray(schema.enum) || schema.enum.length === 0))
      fail(where, "enum must be a non-empty array");
    if (schema.properties !== undefined) {
      if (!isObject(schema.properties)) fail(where, "properties must be an object");
      else for (const [name, sub] of Object.entries(schema.properties)) checkSchema(`${where}.properties.${name}`, sub, depth + 1);
    }
    if (schema.items !== undefined) checkSchema(`${where}.items`, schema.items, depth + 1);
    if (schema.additionalProperties !== undefined) checkSchema(`${where}.additionalProperties`, schema.additionalProperties, depth + 1);
    for (const key of ["allOf", "anyOf", "oneOf"]) {
      if (schema[key] === undefined) continue;
      if (!Array.isArray(schema[key]) || (schema[key] as unknown[]).length === 0) fail(where, `${key} must be a non-empty array`);
      else (schema[key] as unknown[]).forEach((sub, i) => checkSchema(`${where}.${key}[${i}]`, sub, depth + 1));
    }
  };
  for (const [name, schema] of Object.entries(isObject(components.schemas) ? components.schemas : {}))
    checkSchema(`components.schemas.${name}`, schema);

  const checkContent = (where: string, content: unknown) => {
    if (!isObject(content)) return fail(where, "content must be an object");
    for (const [mediaType, media] of Object.entries(content)) {
      if (!/^[\w.+-]+\/[\w.+*-]+$/.test(mediaType)) fail(`${where}.${mediaType}`, "not a media type");
      if (!isObject(media)) fail(`${where}.${mediaType}`, "media type object required");
      else if (media.schema !== undefined) checkSchema(`${where}.${mediaType}.schema`, media.schema);
    }
  };

  const operationIds = new Set<string>();
  const paths = isObject(doc.paths) ? doc.paths : {};
  for (const [path, item] of Object.entries(paths)) {
    if (!path.startsWith("/")) fail(`paths.${path}`, "must start with /");
    if (!isObject(item)) {
      fail(`paths.${path}`, "path item must be an object");
      continue;
    }
    const templateNames = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
    for (const method of Object.keys(item)) {
      if (!METHODS.includes(method) && !["summary", "description", "servers", "parameters", "$ref"].includes(method))
        fail(`paths.${path}.${method}`, "not an HTTP method or path item field");
      if (!METHODS.includes(method)) continue;
      const op = item[method];
      const where = `paths.${path}.${method}`;
      if (!isObject(op)) {
        fail(where, "operation must be an object");
        continue;
      }
      if (typeof op.operationId === "string") {
        if (operationIds.has(op.operationId)) fail(where, `duplicate operationId ${op.operationId}`);
        operationIds.add(op.operationId);
      }
      const params = (op.parameters as unknown[] | undefined) ?? [];
      const seen = new Set<string>();
      for (const [i, param] of params.entries()) {
        const pw = `${where}.parameters[${i}]`;
        if (!isObject(param) || typeof param.name !== "string" || !PARAMETER_LOCATIONS.includes(param.in as string)) {
          fail(pw, "needs name and in (query, header, path or cookie)");
          continue;
        }
        const key = `${param.in}:${param.in === "header" ? param.name.toLowerCase() : param.name}`;
        if (seen.has(key)) fail(pw, `duplicate parameter ${key}`);
        seen.add(key);
        if (param.in === "path" && param.required !== true) fail(pw, "path parameters must be required");
        if (param.in === "path" && !templateNames.includes(param.name)) fail(pw, `path parameter ${param.name} is not in the path`);
        if ((param.schema === undefined) === (param.content === undefined)) fail(pw, "needs exactly one of schema and content");
        if (param.schema !== undefined) checkSchema(`${pw}.schema`, param.schema);
      }
      for (const name of templateNames)
        if (!params.some((p) => isObject(p) && p.in === "path" && p.name === name)) fail(where, `path template {${name}} has no parameter`);
      if (op.requestBody !== undefined) {
        if (!isObject(op.requestBody) || !isObject(op.requestBody.content)) fail(`${where}.requestBody`, "content required");
        else checkContent(`${where}.requestBody.content`, op.requestBody.content);
      }
      if (!isObject(op.responses) || Object.keys(op.responses).length === 0) fail(`${where}.responses`, "at least one response");
      else {
        for (const [status, response] of Object.entries(op.responses)) {
          const rw = `${where}.responses.${status}`;
          if (status !== "default" && !/^[1-5](\d\d|XX)$/.test(status)) fail(rw, "not a status code");
          if (!isObject(response) || typeof response.description !== "string") fail(rw, "description required");
          else {
            if (response.content !== undefined) checkContent(`${rw}.content`, response.content);
            for (const [name, header] of Object.entries(isObject(response.headers) ? response.headers : {})) {
              if (!isObject(header) || (header.schema === undefined && header.content === undefined))
                fail(`${rw}.headers.${name}`, "needs schema or content");
            }
          }
        }
      }
      checkSecurity(`${where}.security`, op.security);
    }
  }
  return problems;
}
