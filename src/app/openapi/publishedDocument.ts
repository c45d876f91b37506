import { functionDefinitions } from "../functionDefinitions.js";
import type { HttpFunctionDefinition } from "../functionTypes.js";
import { buildOpenApiDocument, type OpenApiDocument } from "./document.js";
import { API_VERSION } from "./serveOpenApi.js";

/**
 * The document as the app serves it under host.json's default route prefix: what the typed
 * client in clients/typescript is generated from, without starting a host.
 */
export function publishedOpenApiDocument(): OpenApiDocument {
  const http = functionDefinitions.filter((d): d is HttpFunctionDefinition => d.kind === "http");
  return buildOpenApiDocument(http, { routePrefix: "api", version: API_VERSION });
}
