/**
 * Batch fields from the query string (?tenantId=&groupTag=&orderIdentifier=&callbackUrl=): where CSV and
 * Graph's import-action body take them, and a fallback for the JSON body. Names match
 * case-insensitively, because a misspelt `?tenantid=` silently ignored would send the batch to
 * the default tenant. Other parameters (such as the Functions key `code`) are left alone.
 */
import type { FieldProblem } from "../http/problem.js";
import { BATCH_FIELDS } from "./deviceSchema.js";

export type BatchField = (typeof BATCH_FIELDS)[number];

export interface QueryBatchFields {
  fields: Partial<Record<BatchField, string>>;
  problems: FieldProblem[];
}

export function readQueryBatchFields(query: URLSearchParams): QueryBatchFields {
  const fields: Partial<Record<BatchField, string>> = {};
  const problems: FieldProblem[] = [];
  for (const [name, value] of query) {
    const field = BATCH_FIELDS.find((f) => f.toLowerCase() === name.toLowerCase());
    if (field === undefined) continue;
    const earlier = fields[field];
    if (earlier !== undefined && earlier.trim() !== value.trim()) {
      if (!problems.some((p) => p.field === field)) {
        problems.push({ field, message: "given more than once in the query string, with different values" });
      }
      continue;
    }
    fields[field] = value;
  }
  return { fields, problems };
}
