/**
 * A JSON body, parsed and sorted into what the schema validates. Two shapes:
 * - ours: { "tenantId"?, "orderIdentifier"?, "groupTag"?, "devices": [ … ] }; a batch field the
 *   body leaves out may come from the query string (the same value in both is fine, two
 *   different values are a problem);
 * - Graph's import action: { "importedWindowsAutopilotDeviceIdentities": [ … ] }, with the batch
 *   fields in the query string only.
 */
import { problem, ProblemType, type FieldProblem, type ProblemDetails } from "../http/problem.js";
import { BATCH_FIELDS, DEVICES_FIELD, GRAPH_DEVICES_FIELD } from "./deviceSchema.js";
import { describeJsonSyntaxError } from "./jsonSyntax.js";
import { readQueryBatchFields, type BatchField } from "./queryFields.js";
import { displayName, unknownNameMessage } from "./suggest.js";

/** What the import-request schema gets, and what is needed to explain its issues. */
export interface BatchCandidate {
  input: Record<string, unknown>;
  /** The name the body used for its device array. */
  devicesField: string;
  /** Batch fields whose value came from the query string. */
  fromQuery: ReadonlySet<string>;
  /** Problems found before the schema ran. */
  problems: FieldProblem[];
  /** CSV line of each device. */
  lines?: number[];
}

export type CandidateOutcome = { ok: true; candidate: BatchCandidate } | { ok: false; problem: ProblemDetails };

export function readJsonBody(text: string, query: URLSearchParams): CandidateOutcome {
  if (text.trim() === "") {
    return { ok: false, problem: problem(ProblemType.malformedBody, 400, "Malformed JSON", "The body is empty; expected a JSON object.") };
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    const where = describeJsonSyntaxError(text, error);
    return {
      ok: false,
      problem: problem(
        ProblemType.malformedBody,
        400,
        "Malformed JSON",
        `The body is not valid JSON: ${where.reason} at line ${where.line}, column ${where.column} (offset ${where.offset}).`,
        { line: where.line, column: where.column, offset: where.offset },
      ),
    };
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return {
      ok: false,
      problem: problem(
        ProblemType.validation,
        400,
        "Validation failed",
        `The body must be a JSON object: { "${DEVICES_FIELD}": [ … ] }, or Graph's { "${GRAPH_DEVICES_FIELD}": [ … ] }; nothing was imported.`,
        { errors: [{ field: "(body)", message: "must be a JSON object" }] },
      ),
    };
  }
  const record = body as Record<string, unknown>;
  const queryBatch = readQueryBatchFields(query);
  const isGraphShape = Object.hasOwn(record, GRAPH_DEVICES_FIELD) && !Object.hasOwn(record, DEVICES_FIELD);
  return {
    ok: true,
    candidate: isGraphShape
      ? graphShape(record, queryBatch.fields, queryBatch.problems)
      : ourShape(record, queryBatch.fields, queryBatch.problems),
  };
}

function graphShape(
  body: Record<string, unknown>,
  queryFields: Partial<Record<BatchField, string>>,
  problems: FieldProblem[],
): BatchCandidate {
  for (const key of Object.keys(body)) {
    if (key === GRAPH_DEVICES_FIELD) continue;
    const batchField = (BATCH_FIELDS as readonly string[]).includes(key);
    problems.push({
      field: displayName(key),
      message: batchField
        ? `unknown field '${key}' in Graph's import-action body; pass ${key} in the query string (?${key}=…)`
        : unknownNameMessage("field", key, [GRAPH_DEVICES_FIELD]),
    });
  }
  return {
    input: { ...queryFields, [DEVICES_FIELD]: body[GRAPH_DEVICES_FIELD] },
    devicesField: GRAPH_DEVICES_FIELD,
    fromQuery: new Set(Object.keys(queryFields)),
    problems,
  };
}

function ourShape(
  body: Record<string, unknown>,
  queryFields: Partial<Record<BatchField, string>>,
  problems: FieldProblem[],
): BatchCandidate {
  const input: Record<string, unknown> = { ...body };
  const fromQuery = new Set<string>();
  for (const [field, value] of Object.entries(queryFields)) {
    const inBody = body[field];
    if (inBody === undefined || inBody === null || (typeof inBody === "string" && inBody.trim() === "")) {
      input[field] = value;
      fromQuery.add(field);
    } else if (typeof inBody === "string" && !sameValue(field, inBody, value) && value.trim() !== "") {
      problems.push({ field, message: "given in both the body and the query string, with different values" });
    }
  }
  return { input, devicesField: DEVICES_FIELD, fromQuery, problems };
}

function sameValue(field: string, a: string, b: string): boolean {
  return field === "tenantId" ? a.trim().toLowerCase() === b.trim().toLowerCase() : a.trim() === b.trim();
}
