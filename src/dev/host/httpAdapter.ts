import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { HttpFunctionDefinition } from "../../app/functionTypes.js";
import { problem, ProblemType } from "../../http/problem.js";
import { problemResponse } from "../../http/responses.js";
import { readLimited, type AppRequest, type AppResponse } from "../../http/types.js";

export interface CompiledRoute {
  definition: HttpFunctionDefinition;
  pattern: RegExp;
  paramNames: string[];
}

/** Compiles an Azure Functions route template ("imports/{id}/devices") below the route prefix. */
export function compileRoute(prefix: string, definition: HttpFunctionDefinition): CompiledRoute {
  const paramNames: string[] = [];
  const path = [prefix, definition.route]
    .filter(Boolean)
    .join("/")
    .split("/")
    .map((segment) => {
      const param = /^\{(\w+)(?::[^}]*)?\??\}$/.exec(segment);
      if (param) {
        paramNames.push(param[1]!);
        return "([^/]+)";
      }
      return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    })
    .join("/");
  return { definition, pattern: new RegExp(`^/${path}/?$`, "i"), paramNames };
}

export type RouteMatch =
  | { kind: "match"; route: CompiledRoute; params: Record<string, string> }
  | { kind: "method-not-allowed"; allow: string[] }
  | { kind: "none" };

export function matchRoute(routes: readonly CompiledRoute[], method: string, pathname: string): RouteMatch {
  const allow: string[] = [];
  for (const route of routes) {
    const found = route.pattern.exec(pathname);
    if (!found) continue;
    if (!route.definition.methods.includes(method.toUpperCase() as "GET" | "POST" | "DELETE")) {
      allow.push(...route.definition.methods);
      continue;
    }
    const params = Object.fromEntries(route.paramNames.map((name, i) => [name, decodeURIComponent(found[i + 1]!)]));
    return { kind: "match", route, params };
  }
  return allow.length ? { kind: "method-not-allowed", allow } : { kind: "none" };
}

export function toAppRequest(req: IncomingMessage, params: Record<string, string>): AppRequest {
  return {
    method: req.method ?? "GET",
    url: new URL(req.url ?? "/", `http://${req.headers.host ?? "localhost"}`),
    headers: {
      get: (name) => {
        const value = req.headers[name.toLowerCase()];
        return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
      },
    },
    params,
    readBody: (limitBytes) => readLimited(req, limitBytes),
  };
}

export function routeProblem(match: Exclude<RouteMatch, { kind: "match" }>, pathname: string): AppResponse {
  if (match.kind === "method-not-allowed") {
    return problemResponse(problem(ProblemType.methodNotAllowed, 405, "Method not allowed", `Allowed: ${match.allow.join(", ")}.`), {
      allow: match.allow.join(", "),
    });
  }
  return problemResponse(problem(ProblemType.notFound, 404, "Not found", `No function serves ${pathname}.`));
}

export function writeResponse(req: IncomingMessage, res: ServerResponse, response: AppResponse): void {
  if (response.stream) {
    res.writeHead(response.status, { ...response.headers });
    // A failure half-way can no longer change the status: cut the connection so the client
    // sees a truncated body, never a short one that looks complete.
    pipeline(Readable.from(response.stream), res).catch(() => res.destroy());
    return;
  }
  const body = response.body ?? "";
  const headers: Record<string, string | number> = { ...response.headers, "content-length": Buffer.byteLength(body) };
  // A body we refused to read (too large) would otherwise be drained; close instead.
  if (!req.complete) headers.connection = "close";
  res.writeHead(response.status, headers);
  res.end(body);
}
