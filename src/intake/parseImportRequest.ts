/**
 * POST /api/imports, body to batch: media type, size, text encoding, JSON or CSV, then the zod
 * schema of deviceSchema.ts over the whole batch. All or nothing: either every device is valid
 * and the batch comes back (batch-level groupTag and orderIdentifier applied to the devices that
 * have none), or one problem says what is wrong; a validation problem lists every fault found.
 * Pure: no I/O, never throws for any input.
 */
import type { z } from "zod";
import { problem, ProblemType, type ProblemDetails } from "../http/problem.js";
import { decodeText } from "./decodeText.js";
import { createImportRequestSchema, DEVICES_FIELD, hashCheckOf, type ImportRequest } from "./deviceSchema.js";
import type { HashCheck } from "../model/hashRules.js";
import type { IntakeLimits } from "../model/limits.js";
import { ACCEPTED_MEDIA_TYPES, readMediaType, type MediaType } from "./mediaType.js";
import { IMPORT_CSV, readCsvBody, type CsvLayout } from "./parseCsv.js";
import { readJsonBody, type BatchCandidate, type CandidateOutcome } from "./parseJson.js";
import { readQueryBatchFields } from "./queryFields.js";
import { issuesToProblems, validationProblem } from "./validationProblem.js";

export interface ImportRequestInput {
  contentType: string | undefined;
  body: Buffer;
  query: URLSearchParams;
}

export type ParseOutcome<T = ImportRequest> =
  | {
      ok: true;
      request: T;
      /** Which body format the batch came in. */
      source: "json" | "csv";
      /** For CSV, the line each device starts on (the header of an ordinary file is line 1). */
      lines?: number[];
    }
  | { ok: false; problem: ProblemDetails };

export function parseImportRequest(input: ImportRequestInput, limits: IntakeLimits): ParseOutcome {
  return parseBatchRequest(input, limits, { csv: IMPORT_CSV, schema: (candidate) => schemaFor(limits, hashCheckOf(candidate.input)) });
}

/** What sets one kind of batch apart: the CSV it takes, and the schema that validates it (chosen once the body is read). */
export interface BatchKindRules<T> {
  csv: CsvLayout;
  schema(candidate: BatchCandidate): z.ZodType<T>;
}

/**
 * Any kind of batch, body to request: media type, size, text encoding, JSON or CSV (with `rules.csv`),
 * the device count against `limits.maxDevices`, then `rules.schema`, all or nothing.
 */
export function parseBatchRequest<T>(
  input: ImportRequestInput,
  limits: Pick<IntakeLimits, "maxDevices" | "maxBodyBytes">,
  rules: BatchKindRules<T>,
): ParseOutcome<T> {
  const media = readMediaType(input.contentType);
  if (media === undefined) return fail(unsupportedMediaType(input.contentType));
  if (input.body.length > limits.maxBodyBytes) {
    return fail(
      problem(
        ProblemType.bodyTooLarge,
        413,
        "Request body too large",
        `The body must not exceed ${limits.maxBodyBytes} bytes; split the batch.`,
        {
          maxBodyBytes: limits.maxBodyBytes,
        },
      ),
    );
  }

  const decoded = decodeText(input.body, media.charset);
  if (!decoded.ok)
    return fail(decoded.reason === "unsupported-charset" ? unsupportedCharset(media) : undecodable(decoded.encoding, decoded.line));

  const read = media.kind === "json" ? readJsonBody(decoded.text, input.query) : csvCandidate(decoded.text, input.query, rules.csv);
  if (!read.ok) return read;
  const candidate = read.candidate;

  // Count first, so an oversized batch fails before any device is validated.
  const devices = candidate.input[DEVICES_FIELD];
  if (Array.isArray(devices)) {
    if (devices.length === 0) {
      return fail(problem(ProblemType.noDevices, 400, "No devices", "The batch holds no devices; send at least one."));
    }
    if (devices.length > limits.maxDevices) {
      return fail(
        problem(
          ProblemType.tooManyDevices,
          413,
          "Too many devices",
          `The batch holds ${devices.length} devices; at most ${limits.maxDevices} are accepted in one request. Split it into smaller batches.`,
          { deviceCount: devices.length, maxDevices: limits.maxDevices },
        ),
      );
    }
  }

  const parsed = rules.schema(candidate).safeParse(candidate.input);
  const problems = [
    ...candidate.problems,
    ...(parsed.success
      ? []
      : issuesToProblems(parsed.error.issues, {
          lines: candidate.lines,
          devicesField: candidate.devicesField,
          fromQuery: candidate.fromQuery,
        })),
  ];
  if (problems.length > 0 || !parsed.success) return fail(validationProblem(problems));
  return { ok: true, request: parsed.data, source: media.kind, ...(candidate.lines ? { lines: candidate.lines } : {}) };
}

function csvCandidate(text: string, query: URLSearchParams, layout: CsvLayout): CandidateOutcome {
  const csv = readCsvBody(text, layout);
  if (!csv.ok) return csv;
  const batch = readQueryBatchFields(query);
  const candidate: BatchCandidate = {
    input: { ...batch.fields, [DEVICES_FIELD]: csv.devices },
    devicesField: DEVICES_FIELD,
    fromQuery: new Set(Object.keys(batch.fields)),
    problems: batch.problems,
    lines: csv.lines,
  };
  return { ok: true, candidate };
}

// Schemas are built once per distinct set of limits (in practice: one).
const schemas = new Map<string, ReturnType<typeof createImportRequestSchema>>();

function schemaFor(limits: IntakeLimits, hashCheck: HashCheck) {
  const key = `${limits.maxDevices}/${limits.hashMinBytes}/${limits.hashMaxBytes}/${hashCheck}`;
  let schema = schemas.get(key);
  if (schema === undefined) {
    schema = createImportRequestSchema(limits, hashCheck);
    if (schemas.size > 16) schemas.clear();
    schemas.set(key, schema);
  }
  return schema;
}

function unsupportedMediaType(contentType: string | undefined): ProblemDetails {
  const given = contentType?.split(";")[0]?.trim();
  const shown =
    given && given.length <= 100 && /^[\x21-\x7e]+$/.test(given) ? `, not '${given}'` : given ? "" : " (the request has no Content-Type)";
  return problem(
    ProblemType.unsupportedMediaType,
    415,
    "Unsupported media type",
    `Send the batch as JSON (application/json) or as the Autopilot CSV (text/csv)${shown}.`,
    { accepted: [...ACCEPTED_MEDIA_TYPES] },
  );
}

function unsupportedCharset(media: MediaType): ProblemDetails {
  return problem(
    ProblemType.unsupportedMediaType,
    415,
    "Unsupported charset",
    "The Content-Type names a charset this service cannot decode; send UTF-8 or UTF-16 (with a byte-order mark).",
    { accepted: [...ACCEPTED_MEDIA_TYPES], mediaType: media.essence },
  );
}

function undecodable(encoding: string, line: number | undefined): ProblemDetails {
  const where = line === undefined ? "" : ` (first at line ${line})`;
  const advice = encoding === "utf-8" ? " Save the file as UTF-8, or as UTF-16 with a byte-order mark (PowerShell's 'Unicode')." : "";
  return problem(ProblemType.malformedBody, 400, "Malformed body", `The body is not valid ${encoding.toUpperCase()}${where}.${advice}`, {
    encoding,
    ...(line === undefined ? {} : { line }),
  });
}

function fail(details: ProblemDetails): { ok: false; problem: ProblemDetails } {
  return { ok: false, problem: details };
}
