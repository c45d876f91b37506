import type { HttpFunctionDefinition } from "../functionTypes.js";
import type { AppResponse } from "../../http/types.js";
import { buildOpenApiDocument, type OpenApiDocument } from "./document.js";
import { renderReferencePage } from "./referencePage.js";

/** The contract's own version: raise it when the document changes in a way callers notice. */
export const API_VERSION = "1.1.0";

const built = new Map<string, { document: OpenApiDocument; json: string; html?: string }>();

/** Built once per process and route prefix: the definitions and schemas do not change while it runs. */
function documentFor(definitions: readonly HttpFunctionDefinition[], routePrefix: string) {
  let entry = built.get(routePrefix);
  if (!entry) {
    const document = buildOpenApiDocument(definitions, { routePrefix, version: API_VERSION });
    entry = { document, json: JSON.stringify(document) };
    built.set(routePrefix, entry);
  }
  return entry;
}

/** The route prefix this request came in under: its path minus the function's own route. */
export function routePrefixOf(pathname: string, route: string): string {
  const trimmed = pathname.replace(/\/+$/, "");
  return trimmed.toLowerCase().endsWith(`/${route}`) ? trimmed.slice(1, trimmed.length - route.length - 1) : "api";
}

export function serveOpenApiDocument(definitions: readonly HttpFunctionDefinition[], routePrefix: string): AppResponse {
  return {
    status: 200,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-cache", "access-control-allow-origin": "*" },
    body: documentFor(definitions, routePrefix).json,
  };
}

export function serveReferencePage(definitions: readonly HttpFunctionDefinition[], routePrefix: string, documentPath: string): AppResponse {
  const entry = documentFor(definitions, routePrefix);
  entry.html ??= renderReferencePage(entry.document, documentPath);
  return {
    status: 200,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "content-security-policy":
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
      "x-content-type-options": "nosniff",
      "cache-control": "no-cache",
    },
    body: entry.html,
  };
}
