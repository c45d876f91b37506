import type { z } from "zod";
import { problem, ProblemType, type FieldProblem, type ProblemDetails } from "../http/problem.js";
import { decodeText } from "./decodeText.js";
import {
  batchFieldsSchema,
  deviceSubmissionSchema,
  graphImportActionSchema,
  IGNORED_DEVICE_FIELDS,
  importRequestSchema,
  type DeviceSubmission,
  type ImportRequest,
} from "./deviceSchema.js";
import { findDuplicates } from "./findDuplicates.js";
import { MAX_LISTED_PROBLEMS, type IntakeLimits } from "./limits.js";
import { parseAutopilotCsv } from "./parseCsv.js";
import { parseJsonBody } from "./parseJson.js";

export interface ImportRequestInput {
  contentType: string | undefined;
  body: Buffer;
  query: URLSearchParams;
}

export type ParseOutcome =
  | { ok: true; request: ImportRequest; source: "json" | "csv"; /** CSV line of each device. */ lines?: number[] }
  | { ok: false; problem: ProblemDetails };

export const ACCEPTED_MEDIA_TYPES = ["application/json", "text/csv"] as const;

/** Which body parser a Content-Type selects; `+json` suffixes and charset parameters are fine. */
export function mediaKind(contentType: string | undefined): "json" | "csv" | undefined {
  const type = contentType?.split(";")[0]?.trim().toLowerCase();
  if (!type) return undefined;
  if (type === "application/json" || /^application\/[\w.+-]+\+json$/.test(type)) return "json";
  if (type === "text/csv" || type === "application/csv") return "csv";
  return undefined;
}

/** A device before validation, with where it came from. */
interface RawDevice {
  value: unknown;
  line?: number;
}

/**
 * Parses and validates a whole batch, all or nothing: either every device is valid and the
 * batch comes back with batch-level fields applied, or a problem lists every fault found.
 */
export function parseImportRequest(input: ImportRequestInput, limits: IntakeLimits): ParseOutcome {
  const kind = mediaKind(input.contentType);
  if (!kind) {
    return fail(
      problem(
        ProblemType.unsupportedMediaType,
        415,
        "Unsupported media type",
        `Send the batch as ${ACCEPTED_MEDIA_TYPES.join(" or ")}${input.contentType ? `, not ${input.contentType.split(";")[0]}` : " (Content-Type is missing)"}.`,
        { accepted: [...ACCEPTED_MEDIA_TYPES] },
      ),
    );
  }
  if (input.body.length > limits.maxBodyBytes) return fail(bodyTooLarge(limits));

  const decoded = decodeText(input.body);
  if (!decoded.ok) return fail(problem(ProblemType.malformedBody, 400, "Malformed body", `The body could not be read: ${decoded.reason}.`));

  const envelope = kind === "json" ? readJson(decoded.text, input.query) : readCsv(decoded.text, input.query);
  if (!envelope.ok) return envelope;
  const { batch, devices } = envelope;

  if (devices.length === 0) {
    return fail(problem(ProblemType.noDevices, 400, "No devices", "The batch holds no devices; send at least one."));
  }
  if (devices.length > limits.maxDevices) {
    return fail(
      problem(
        ProblemType.tooManyDevices,
        413,
        "Too many devices",
        `The batch holds ${devices.length} devices; at most ${limits.maxDevices} are accepted in one batch. Split it.`,
        { maxDevices: limits.maxDevices, deviceCount: devices.length },
      ),
    );
  }

  const schema = deviceSubmissionSchema(limits);
  const problems: FieldProblem[] = [];
  const valid: DeviceSubmission[] = [];
  devices.forEach((raw, index) => {
    const where = { device: index, ...(raw.line ? { line: raw.line } : {}) };
    const parsed = schema.safeParse(withoutIgnoredFields(raw.value));
    if (parsed.success) valid[index] = parsed.data;
    else problems.push(...describeIssues(parsed.error, where));
  });
  const checked = valid.flatMap((device, index) => (device ? [{ ...device, index }] : []));
  for (const { index, firstIndex, field } of findDuplicates(checked)) {
    const firstLine = devices[firstIndex]!.line;
    problems.push({
      device: index,
      ...(devices[index]!.line ? { line: devices[index]!.line } : {}),
      field,
      message: `the same ${field === "serialNumber" ? "serial number" : "hardware hash"} as device ${firstIndex}${firstLine ? ` (line ${firstLine})` : ""}`,
    });
  }
  if (problems.length) return fail(validationProblem(problems));

  return {
    ok: true,
    source: kind,
    ...(kind === "csv" ? { lines: devices.map((d) => d.line ?? 0) } : {}),
    request: {
      ...batch,
      devices: valid.map((device) => ({
        ...device,
        ...(device.groupTag || !batch.groupTag ? {} : { groupTag: batch.groupTag }),
        ...(device.orderIdentifier || !batch.orderIdentifier ? {} : { orderIdentifier: batch.orderIdentifier }),
      })),
    },
  };
}

type Envelope = { ok: true; batch: Omit<ImportRequest, "devices">; devices: RawDevice[] } | { ok: false; problem: ProblemDetails };

function readJson(text: string, query: URLSearchParams): Envelope {
  const parsed = parseJsonBody(text);
  if (!parsed.ok) {
    return fail(
      problem(ProblemType.malformedBody, 400, "Malformed JSON", `The body is not valid JSON: ${parsed.message} at line ${parsed.line}, column ${parsed.column}.`, {
        line: parsed.line,
        column: parsed.column,
        offset: parsed.offset,
      }),
    );
  }
  const value = parsed.value;
  if (value && typeof value === "object" && !Array.isArray(value) && "importedWindowsAutopilotDeviceIdentities" in value) {
    const action = graphImportActionSchema.safeParse(value);
    if (!action.success) return fail(validationProblem(describeIssues(action.error, {})));
    const batch = readQueryBatch(query);
    if (!batch.ok) return batch;
    return { ok: true, batch: batch.batch, devices: action.data.importedWindowsAutopilotDeviceIdentities.map((v) => ({ value: v })) };
  }
  const request = importRequestSchema.safeParse(value);
  if (!request.success) {
    if (!value || typeof value !== "object" || Array.isArray(value)) {
      return fail(
        problem(
          ProblemType.validation,
          400,
          "Validation failed",
          'The body must be an object: { "devices": [ … ] } or Graph\'s { "importedWindowsAutopilotDeviceIdentities": [ … ] }.',
          { errors: [{ field: "(body)", message: "expected an object" }] },
        ),
      );
    }
    return fail(validationProblem(describeIssues(request.error, {})));
  }
  const { devices, ...batch } = request.data;
  return { ok: true, batch: definedOnly(batch), devices: devices.map((v) => ({ value: v })) };
}

function readCsv(text: string, query: URLSearchParams): Envelope {
  const csv = parseAutopilotCsv(text);
  if (!csv.ok) {
    return fail(
      problem(
        ProblemType.malformedBody,
        400,
        "Malformed CSV",
        `The CSV could not be read: ${csv.message}${csv.kind === "malformed" && csv.line ? ` (line ${csv.line})` : ""}.`,
        csv.kind === "malformed" && csv.line ? { line: csv.line } : {},
      ),
    );
  }
  const batch = readQueryBatch(query);
  if (!batch.ok) return batch;
  return { ok: true, batch: batch.batch, devices: csv.devices.map((d) => ({ value: d.fields, line: d.line })) };
}

function readQueryBatch(query: URLSearchParams): { ok: true; batch: Omit<ImportRequest, "devices"> } | { ok: false; problem: ProblemDetails } {
  const fields = Object.fromEntries(["tenantId", "groupTag", "orderIdentifier"].flatMap((k) => (query.has(k) ? [[k, query.get(k)]] : [])));
  const parsed = batchFieldsSchema.safeParse(fields);
  if (!parsed.success) return fail(validationProblem(describeIssues(parsed.error, {}).map((p) => ({ ...p, field: `query.${p.field}` }))));
  return { ok: true, batch: definedOnly(parsed.data) };
}

function withoutIgnoredFields(value: unknown): unknown {
  if (!value || typeof value !== "object" || Array.isArray(value)) return value;
  const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  for (const field of IGNORED_DEVICE_FIELDS) delete copy[field];
  return copy;
}

const KNOWN_DEVICE_FIELDS = ["serialNumber", "hardwareIdentifier", "productKey", "groupTag", "assignedUserPrincipalName", "orderIdentifier", "importId"];
const KNOWN_BATCH_FIELDS = ["tenantId", "orderIdentifier", "groupTag", "devices"];

/** zod issues as field problems. Messages are ours or zod's: neither quotes the value, so no secret leaks. */
function describeIssues(error: z.ZodError, where: { device?: number; line?: number }): FieldProblem[] {
  return error.issues.flatMap((issue) => {
    const base = issue.path.map(String).join(".");
    if (issue.code === "unrecognized_keys") {
      const known = where.device === undefined ? KNOWN_BATCH_FIELDS : KNOWN_DEVICE_FIELDS;
      return issue.keys.map((key) => ({
        ...where,
        field: base ? `${base}.${key}` : key,
        message: `unknown field '${key}'${suggest(key, known)}`,
      }));
    }
    if (issue.code === "invalid_type" && where.device !== undefined && issue.path.length === 0) {
      return [{ ...where, field: "(device)", message: "a device must be an object" }];
    }
    return [{ ...where, field: base || "(body)", message: issue.message === "Invalid input: expected string, received undefined" ? "required" : issue.message }];
  });
}

function suggest(key: string, known: readonly string[]): string {
  const match = known.find((k) => k.toLowerCase() === key.toLowerCase().replace(/[\s_-]/g, ""));
  return match ? `; did you mean '${match}'?` : "";
}

function validationProblem(errors: FieldProblem[]): ProblemDetails {
  const devices = new Set(errors.map((e) => e.device).filter((d) => d !== undefined));
  const listed = errors.slice(0, MAX_LISTED_PROBLEMS);
  return problem(
    ProblemType.validation,
    400,
    "Validation failed",
    `${errors.length} problem${errors.length === 1 ? "" : "s"}${devices.size ? ` in ${devices.size} device${devices.size === 1 ? "" : "s"}` : ""}; nothing was imported.`,
    { errors: listed, ...(listed.length < errors.length ? { truncated: true, totalErrors: errors.length } : {}) },
  );
}

function bodyTooLarge(limits: IntakeLimits): ProblemDetails {
  return problem(ProblemType.bodyTooLarge, 413, "Request body too large", `The body must not exceed ${limits.maxBodyBytes} bytes; split the batch.`, {
    maxBodyBytes: limits.maxBodyBytes,
  });
}

function fail(details: ProblemDetails): { ok: false; problem: ProblemDetails } {
  return { ok: false, problem: details };
}

function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
