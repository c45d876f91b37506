import { DEFAULT_INTAKE_LIMITS, type IntakeLimits } from "../../src/model/limits.js";
import { parseImportRequest, type ParseOutcome } from "../../src/intake/parseImportRequest.js";
import { makeHash } from "../support/devices.js";

export const limits = DEFAULT_INTAKE_LIMITS;

export function parse(contentType: string | undefined, body: Buffer | string, query = "", withLimits: IntakeLimits = limits): ParseOutcome {
  return parseImportRequest(
    { contentType, body: typeof body === "string" ? Buffer.from(body) : body, query: new URLSearchParams(query) },
    withLimits,
  );
}

export const postJson = (body: unknown, query = "", withLimits?: IntakeLimits) =>
  parse("application/json", JSON.stringify(body), query, withLimits);
export const postCsv = (body: Buffer | string, query = "", withLimits?: IntakeLimits) => parse("text/csv", body, query, withLimits);

export function ok(outcome: ParseOutcome) {
  if (!outcome.ok) throw new Error(`expected success, got ${JSON.stringify(outcome.problem, null, 2)}`);
  return outcome;
}

export function problemOf(outcome: ParseOutcome) {
  if (outcome.ok) throw new Error(`expected a problem, got ${outcome.request.devices.length} valid devices`);
  return outcome.problem;
}

/** A valid JSON device. */
export const device = (i: number, extra: Record<string, unknown> = {}) => ({
  serialNumber: `SN-${i}`,
  hardwareIdentifier: makeHash(i),
  ...extra,
});

export const CSV_HEADER = "Device Serial Number,Windows Product ID,Hardware Hash";
