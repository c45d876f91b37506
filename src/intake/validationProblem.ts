/**
 * zod issues as the FieldProblems of one 400 validation problem. Messages come from the schema
 * (which never quotes a value) or from here; unknown field names are shown only when they look
 * like names (see displayName).
 */
import type { z } from "zod";
import { problem, ProblemType, type FieldProblem, type ProblemDetails } from "../http/problem.js";
import { BATCH_FIELDS, DEVICE_FIELD_ALIASES, DEVICE_FIELDS, DEVICES_FIELD } from "./deviceSchema.js";
import { MAX_REPORTED_PROBLEMS } from "../model/limits.js";
import { displayName, unknownNameMessage } from "./suggest.js";

export interface IssueContext {
  /** CSV line of each device. */
  lines?: readonly number[];
  /** The name the body used for its device array (devices, or Graph's). */
  devicesField: string;
  /** Batch fields whose value came from the query string. */
  fromQuery: ReadonlySet<string>;
}

export function issuesToProblems(issues: readonly z.core.$ZodIssue[], context: IssueContext): FieldProblem[] {
  return issues.flatMap((issue) => {
    const [head, index, field] = issue.path;
    if (head === DEVICES_FIELD && typeof index === "number") {
      const where = { device: index, ...(context.lines?.[index] === undefined ? {} : { line: context.lines[index] }) };
      if (issue.code === "unrecognized_keys") {
        return issue.keys.map((key) => ({
          ...where,
          field: displayName(key),
          message: unknownNameMessage("field", key, DEVICE_FIELDS, DEVICE_FIELD_ALIASES),
        }));
      }
      return [
        {
          ...where,
          field: field === undefined ? "(device)" : String(field),
          message: withDuplicateLine(issue, context.lines),
          ...problemCode(issue),
        },
      ];
    }
    if (head === DEVICES_FIELD) return [{ field: context.devicesField, message: issue.message }];
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({
        field: displayName(key),
        message: unknownNameMessage("field", key, [...BATCH_FIELDS, DEVICES_FIELD]),
      }));
    }
    const name = issue.path.length === 0 ? "(body)" : issue.path.map(String).join(".");
    return [{ field: name, message: context.fromQuery.has(name) ? `${issue.message} (in the query string)` : issue.message }];
  });
}

/** The stable code a rule gave its issue (hash problems), for callers to branch on. */
function problemCode(issue: z.core.$ZodIssue): { code?: string } {
  const code = issue.code === "custom" ? (issue.params as { code?: unknown } | undefined)?.code : undefined;
  return typeof code === "string" ? { code } : {};
}

/** "same serial number as device 3" gains "(line 5)" when the batch came from CSV. */
function withDuplicateLine(issue: z.core.$ZodIssue, lines: readonly number[] | undefined): string {
  const duplicateOf = issue.code === "custom" ? (issue.params as { duplicateOf?: unknown } | undefined)?.duplicateOf : undefined;
  const line = typeof duplicateOf === "number" ? lines?.[duplicateOf] : undefined;
  return line === undefined ? issue.message : `${issue.message} (line ${line})`;
}

/** One 400 problem for the whole batch, batch-level problems first, then by device. */
export function validationProblem(found: readonly FieldProblem[]): ProblemDetails {
  const errors = [...found].sort((a, b) => (a.device ?? -1) - (b.device ?? -1));
  const devices = new Set(errors.flatMap((e) => (e.device === undefined ? [] : [e.device])));
  const batchLevel = errors.length - errors.filter((e) => e.device !== undefined).length;
  const listed = errors.slice(0, MAX_REPORTED_PROBLEMS);
  return problem(
    ProblemType.validation,
    400,
    "Validation failed",
    `${summary(errors.length, batchLevel, devices.size)}; nothing was imported.`,
    {
      errors: listed,
      problemCount: errors.length,
      invalidDeviceCount: devices.size,
      ...(listed.length < errors.length ? { truncated: true } : {}),
    },
  );
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

function summary(total: number, batchLevel: number, deviceCount: number): string {
  if (batchLevel === 0) return `${plural(total, "problem")} in ${plural(deviceCount, "device")}`;
  if (deviceCount === 0) return `${plural(total, "problem")} in the batch itself`;
  return `${plural(total, "problem")} (${batchLevel} in the batch itself, ${total - batchLevel} in ${plural(deviceCount, "device")})`;
}
