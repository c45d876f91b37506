/**
 * The 4K hardware hash read as what it is: a record of the device, not a hash. Layout, marks and
 * sources: shared reference "hardware-hash-format.md" (community-decoded; Microsoft publishes
 * none). In short, little-endian throughout:
 *
 *   "OA" | u16 end of records | records (u16 type, u16 length incl. these 4 bytes, payload) …
 *   | "CS" record: u16 0x5343, u16 36, SHA-256 of bytes [0, end) | zero bytes up to ~3,000
 *
 * Pure: no I/O, never throws, never returns the hash's text in a problem. Records are walked,
 * never read at fixed offsets, and unknown types are skipped by their length: the layout has no
 * version field and newer tools add types.
 */
import { createHash } from "node:crypto";

export const HASH_MAGIC = 0x414f; // "OA" read as a little-endian u16
export const CHECKSUM_TYPE = 0x5343; // "CS"
export const CHECKSUM_RECORD_LENGTH = 36;
export const HEADER_LENGTH = 4;
export const RECORD_HEADER_LENGTH = 4;
/** What the OA3 tool pads a hash to; the base64 is then 4,000 characters. */
export const USUAL_HASH_BYTES = 3_000;

/** The record types read here (the rest are skipped). */
export const RecordType = {
  captureInfo: 1,
  tpmVersion: 13,
  serialNumber: 14,
  manufacturer: 16,
  model: 17,
  family: 19,
  tpmEndorsementKey: 25,
} as const;

/** Capture times count seconds from 2000-01-01T00:00:00Z. */
export const CAPTURE_EPOCH_MS = Date.UTC(2000, 0, 1);
/** Where the u32 capture time sits in a capture-info payload: after two builds of 4 × u16. */
export const CAPTURE_TIME_OFFSET = 16;

export const HASH_PROBLEMS = ["not-base64", "wrong-magic", "truncated", "bad-record-end", "checksum-mismatch"] as const;
export type HashProblem = (typeof HASH_PROBLEMS)[number];

export interface HashFacts {
  serialNumber?: string;
  manufacturer?: string;
  model?: string;
  family?: string;
  /** A TPM version text (type 13) or a non-empty endorsement key (type 25) is present. */
  hasTpm: boolean;
  /** The version out of the TPM text, e.g. "2.0", when it says. */
  tpmVersion?: string;
  /** When the hash was captured (ISO 8601), when the capture-info record says. */
  capturedAt?: string;
}

export type DecodedHash =
  | { ok: true; /** The padded, whitespace-free base64: what is stored and sent to Graph. */ canonical: string; facts: HashFacts }
  | { ok: false; problem: HashProblem; /** Present when the base64 itself was valid. */ canonical?: string };

const WHITESPACE = /\s/;
const WHITESPACE_ALL = /\s+/g;
// Standard alphabet, '=' only at the end; with the length a multiple of 4 this is strict base64.
const STRICT = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * The canonical form of a base64 hash: whitespace dropped and missing '=' padding restored
 * (real devices have produced unpadded hashes that Graph refuses: windows-itpro-docs #6150).
 * Undefined when no padding can make it base64 (a length ≡ 1 mod 4 never can).
 */
export function canonicalBase64(value: string): string | undefined {
  let text = WHITESPACE.test(value) ? value.replace(WHITESPACE_ALL, "") : value;
  const remainder = text.length % 4;
  if (remainder === 1) return undefined;
  if (remainder !== 0) {
    if (text.endsWith("=")) return undefined; // padded, but wrongly
    text += remainder === 2 ? "==" : "=";
  }
  return STRICT.test(text) ? text : undefined;
}

/** Decodes a hash given as base64 (whitespace and missing padding tolerated). */
export function decodeHardwareHash(value: string): DecodedHash {
  const canonical = canonicalBase64(value);
  if (canonical === undefined) return { ok: false, problem: "not-base64" };
  const read = readHashBytes(Buffer.from(canonical, "base64"));
  return read.ok ? { ok: true, canonical, facts: read.facts } : { ok: false, problem: read.problem, canonical };
}

export type ReadHash = { ok: true; facts: HashFacts } | { ok: false; problem: Exclude<HashProblem, "not-base64"> };

/** Checks and reads the binary hash. */
export function readHashBytes(bytes: Uint8Array): ReadHash {
  if (bytes.length < HEADER_LENGTH) return bytes.length >= 2 && u16(bytes, 0) !== HASH_MAGIC ? fail("wrong-magic") : fail("truncated");
  if (u16(bytes, 0) !== HASH_MAGIC) return fail("wrong-magic");
  const end = u16(bytes, 2);
  if (end < HEADER_LENGTH) return fail("bad-record-end");
  if (end + CHECKSUM_RECORD_LENGTH > bytes.length) return fail("truncated");

  const facts: HashFacts = { hasTpm: false };
  let at = HEADER_LENGTH;
  while (at < end) {
    if (at + RECORD_HEADER_LENGTH > end) return fail("bad-record-end");
    const type = u16(bytes, at);
    const length = u16(bytes, at + 2);
    if (length < RECORD_HEADER_LENGTH || at + length > end) return fail("bad-record-end");
    readRecord(facts, type, bytes.subarray(at + RECORD_HEADER_LENGTH, at + length));
    at += length;
  }

  if (u16(bytes, end) !== CHECKSUM_TYPE || u16(bytes, end + 2) !== CHECKSUM_RECORD_LENGTH) return fail("checksum-mismatch");
  const digest = createHash("sha256").update(bytes.subarray(0, end)).digest();
  if (!digest.equals(bytes.subarray(end + RECORD_HEADER_LENGTH, end + CHECKSUM_RECORD_LENGTH))) return fail("checksum-mismatch");
  return { ok: true, facts };
}

function readRecord(facts: HashFacts, type: number, payload: Uint8Array): void {
  switch (type) {
    case RecordType.serialNumber:
      setText(facts, "serialNumber", payload);
      return;
    case RecordType.manufacturer:
      setText(facts, "manufacturer", payload);
      return;
    case RecordType.model:
      setText(facts, "model", payload);
      return;
    case RecordType.family:
      setText(facts, "family", payload);
      return;
    case RecordType.tpmVersion: {
      const text = asciiText(payload);
      if (text === "") return;
      facts.hasTpm = true;
      const version = /TPM-Version:\s*([0-9]+(?:\.[0-9]+)?)/i.exec(text)?.[1];
      if (version !== undefined) facts.tpmVersion = version;
      return;
    }
    case RecordType.tpmEndorsementKey:
      if (payload.some((b) => b !== 0)) facts.hasTpm = true;
      return;
    case RecordType.captureInfo:
      if (payload.length >= CAPTURE_TIME_OFFSET + 4) {
        const seconds = u32(payload, CAPTURE_TIME_OFFSET);
        if (seconds > 0) facts.capturedAt = new Date(CAPTURE_EPOCH_MS + seconds * 1000).toISOString();
      }
      return;
  }
}

function setText(facts: HashFacts, key: "serialNumber" | "manufacturer" | "model" | "family", payload: Uint8Array): void {
  const text = asciiText(payload);
  if (text !== "" && facts[key] === undefined) facts[key] = text;
}

/** 8-bit text ending in one or more NULs (stripped), trimmed. */
function asciiText(payload: Uint8Array): string {
  const nul = payload.indexOf(0);
  return Buffer.from(payload.buffer, payload.byteOffset, nul === -1 ? payload.length : nul)
    .toString("latin1")
    .trim();
}

function u16(bytes: Uint8Array, at: number): number {
  return bytes[at]! | (bytes[at + 1]! << 8);
}

function u32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16)) + bytes[at + 3]! * 0x1000000;
}

function fail(problem: Exclude<HashProblem, "not-base64">): { ok: false; problem: Exclude<HashProblem, "not-base64"> } {
  return { ok: false, problem };
}
