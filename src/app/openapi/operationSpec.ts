import type { z } from "zod";
import type { ProblemTypeUri } from "../../http/problem.js";

/** A JSON Schema written by hand, for the few bodies that are not JSON (CSV, HTML). */
export type JsonSchema = Record<string, unknown>;

export interface ResponseSpec {
  description: string;
  /** application/json body. */
  json?: z.ZodType;
  /** text/csv body: what the spreadsheet holds. */
  csv?: string;
  /** text/html, or another non-JSON media type, with a schema. */
  other?: Record<string, JsonSchema>;
  /** application/problem+json, with each `type` this response can carry. */
  problems?: readonly ProblemTypeUri[];
  headers?: Record<string, { description: string; schema: JsonSchema }>;
}

/**
 * One operation of the API, described with the zod schemas the handler itself validates with,
 * so the OpenAPI document (document.ts) says what the code does.
 */
export interface OperationSpec {
  summary: string;
  description?: string;
  tag: string;
  pathParams?: Record<string, z.ZodType>;
  /** Query parameters: the handler's own query schema (its properties become parameters). */
  query?: z.ZodType;
  /** Query parameters given as JSON Schema properties, when they come from a body schema (CSV batch fields). */
  queryProperties?: Record<string, JsonSchema>;
  headers?: Record<string, { description: string; schema: JsonSchema }>;
  requestBody?: { description: string; required: boolean; json?: readonly z.ZodType[]; other?: Record<string, JsonSchema> };
  responses: Record<number, ResponseSpec>;
}
