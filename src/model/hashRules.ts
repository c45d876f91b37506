/**
 * The intake rules about a device's hardware hash (README, "What the hash tells"): what the
 * decoder's findings mean for a batch. A hash that Intune would fail as 802 InvalidZtdHardwareHash
 * after an import round is refused now, with the reason; a row whose serial number belongs to
 * another device's hash is refused; a hash without TPM data is accepted with a warning.
 *
 * `hashCheck: "off"` (one batch) turns the refusals off, for hashes this decoder does not know:
 * the hash is then only mended where that is safe (whitespace, padding) and size-checked.
 *
 * Messages never quote the hash; serial numbers are not secret (the device views show them).
 */
import { base64Problem } from "./base64.js";
import { hasControlCharacters } from "./fieldRules.js";
import { canonicalBase64, readHashBytes, type HashFacts, type HashProblem } from "./hardwareHash.js";
import type { IntakeLimits } from "./limits.js";

export const HASH_CHECK_MODES = ["on", "off"] as const;
export type HashCheck = (typeof HASH_CHECK_MODES)[number];

/** Warnings a device can carry: accepted, but worth knowing before a deployment depends on it. */
export const HASH_WARNINGS = {
  "no-tpm":
    "The hardware hash holds no TPM data: self-deploying and pre-provisioning modes need TPM 2.0 (user-driven mode works without). Capture the hash again in the full OS if the device has a TPM.",
} as const;
export type HashWarning = keyof typeof HASH_WARNINGS;
export const HASH_WARNING_CODES = Object.keys(HASH_WARNINGS) as HashWarning[];

const OFF_HINT = " Intune fails such a hash as 802 InvalidZtdHardwareHash; if you know it to be good, hashCheck=off sends it as it is.";

const PROBLEM_MESSAGES: Record<Exclude<HashProblem, "not-base64">, string> = {
  "wrong-magic": "is not a 4K hardware hash: it does not start with the 'OA' mark every hash has (its base64 starts with 'T0E').",
  truncated: "is cut short: the hash declares more data than it holds (a partial copy, or a cell cut off in a spreadsheet?).",
  "bad-record-end": "is damaged: its records do not end where the hash says they do.",
  "checksum-mismatch": "is damaged: its SHA-256 checksum does not match its contents (a character changed in copying?).",
};

/** Problem codes on field problems (FieldProblem.code), stable for callers to branch on. */
export const HASH_PROBLEM_CODES = {
  "not-base64": "hash-not-base64",
  "wrong-magic": "hash-wrong-magic",
  truncated: "hash-truncated",
  "bad-record-end": "hash-bad-record-end",
  "checksum-mismatch": "hash-checksum-mismatch",
} as const satisfies Record<HashProblem, string>;
export const HASH_SIZE_CODE = "hash-size";
export const SERIAL_CONTRADICTS_HASH_CODE = "serial-contradicts-hash";

/** What intake keeps of a hash: the text to store and send to Graph, and what it says when checked. */
export interface JudgedHash {
  value: string;
  facts?: HashFacts;
}

export type HashJudgement = { ok: true; hash: JudgedHash } | { ok: false; code: string; message: string };

export function judgeHash(value: string, limits: IntakeLimits, hashCheck: HashCheck): HashJudgement {
  const canonical = canonicalBase64(value);
  if (canonical === undefined) {
    if (hashCheck === "off") {
      // Sent as given (Graph will say 400); bounded like a hash of the largest size.
      const maxCharacters = Math.ceil(limits.hashMaxBytes / 3) * 4;
      return value.length > maxCharacters
        ? { ok: false, code: HASH_SIZE_CODE, message: `must be at most ${maxCharacters} characters` }
        : { ok: true, hash: { value } };
    }
    const why = base64Problem(value.replace(/\s+/g, "")) ?? "is not base64";
    return { ok: false, code: HASH_PROBLEM_CODES["not-base64"], message: `${why}.${OFF_HINT}` };
  }
  const bytes = decodedLength(canonical);
  if (bytes < limits.hashMinBytes || bytes > limits.hashMaxBytes) {
    return {
      ok: false,
      code: HASH_SIZE_CODE,
      message: `decodes to ${bytes} bytes; a hardware hash decodes to between ${limits.hashMinBytes} and ${limits.hashMaxBytes} bytes`,
    };
  }
  if (hashCheck === "off") return { ok: true, hash: { value: canonical } };
  const read = readHashBytes(Buffer.from(canonical, "base64"));
  if (!read.ok) return { ok: false, code: HASH_PROBLEM_CODES[read.problem], message: `${PROBLEM_MESSAGES[read.problem]}${OFF_HINT}` };
  return { ok: true, hash: { value: canonical, facts: read.facts } };
}

function decodedLength(canonical: string): number {
  const padding = canonical.endsWith("==") ? 2 : canonical.endsWith("=") ? 1 : 0;
  return (canonical.length / 4) * 3 - padding;
}

/**
 * Serial numbers compare as OEMs print them and as Intune compares them: trimmed, ignoring case.
 * A record without one (Graph sends null) matches no serial number but an empty one.
 */
export function sameSerialNumber(a: string | null | undefined, b: string): boolean {
  return (a ?? "").trim().toUpperCase() === b.trim().toUpperCase();
}

/** Why the row's serial number cannot stand beside its hash's, or undefined when they agree. */
export function serialContradiction(rowSerial: string, facts: HashFacts | undefined): string | undefined {
  if (facts?.serialNumber === undefined || sameSerialNumber(rowSerial, facts.serialNumber)) return undefined;
  return `is '${shown(rowSerial)}', but the hardware hash is of the device with serial number '${shown(facts.serialNumber)}' (a row mixed up with another device's hash?)`;
}

/**
 * For a row that gives no serial number: the one its hash names, when checks are on and the
 * hash reads. Runs before the field rules, so the usual "required" stands when the hash names none.
 */
export function serialNumberFromHash(hash: unknown, hashCheck: HashCheck): string | undefined {
  if (hashCheck === "off" || typeof hash !== "string") return undefined;
  const canonical = canonicalBase64(hash.trim());
  if (canonical === undefined) return undefined;
  const read = readHashBytes(Buffer.from(canonical, "base64"));
  return read.ok ? read.facts.serialNumber : undefined;
}

/** What the partner sees of a hash: manufacturer, model and warnings (never the hash). */
export interface HashSummary {
  manufacturer?: string;
  model?: string;
  warnings?: HashWarning[];
}

/** Text from a hash is the device's, not the partner's: kept short and free of control characters. */
const SHOWN_TEXT_MAX = 128;

export function summarizeHash(facts: HashFacts | undefined): HashSummary {
  if (facts === undefined) return {};
  const manufacturer = facts.manufacturer === undefined ? undefined : shown(facts.manufacturer);
  const model = facts.model === undefined ? undefined : shown(facts.model);
  return {
    ...(manufacturer ? { manufacturer } : {}),
    ...(model ? { model } : {}),
    ...(facts.hasTpm ? {} : { warnings: ["no-tpm" as const] }),
  };
}

function shown(text: string): string {
  const clean = hasControlCharacters(text) ? text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, " ").trim() : text;
  return clean.length > SHOWN_TEXT_MAX ? `${clean.slice(0, SHOWN_TEXT_MAX - 1)}…` : clean;
}
