import { createHash } from "node:crypto";

/**
 * Idempotency-Key (IETF httpapi draft "The Idempotency-Key HTTP Header Field"): pure parts.
 * The header is a Structured Field String, so `"abc"` is the standard form; bare `abc` is
 * accepted too, as most clients send it.
 */
export const IDEMPOTENCY_KEY_HEADER = "idempotency-key";
const MAX_KEY_LENGTH = 255;

export type KeyHeader = { kind: "none" } | { kind: "invalid" } | { kind: "key"; key: string };

export function readIdempotencyKey(header: string | null): KeyHeader {
  if (header === null) return { kind: "none" };
  let value = header.trim();
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
  if (value.length === 0 || value.length > MAX_KEY_LENGTH || !/^[\x20-\x7e]+$/.test(value) || /["\\]/.test(value))
    return { kind: "invalid" };
  return { kind: "key", key: value };
}

/** What makes two requests "the same" under one key: the query string and the body, byte for byte. */
export function requestFingerprint(query: string, body: Buffer): string {
  return createHash("sha256").update(query.replace(/^\?/, ""), "utf8").update("\n").update(body).digest("hex");
}

/** The row key of a key: keys may hold characters Table storage refuses in keys, and any length up to 255. */
export function keyRowKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

export interface IdempotencyRecord {
  fingerprint: string;
  state: "in-flight" | "done";
  /** The batch id reserved by the first request, so a take-over can tell whether it was recorded. */
  batchId: string;
  claimedAt: number;
  expiresAt: number;
  /** Once done: the original answer. */
  response?: { status: number; headers: Record<string, string>; body: string };
}

/**
 * A request holding the key for longer than this is taken to have died (the Functions front end
 * ends an HTTP request after 230 s), so a retry may take over the key.
 */
export const IN_FLIGHT_LEASE_MS = 5 * 60_000;

export type KeyDecision =
  /** Same key, different request: 422. */
  | { kind: "mismatch" }
  /** The first request finished: answer what it answered. */
  | { kind: "replay"; response: NonNullable<IdempotencyRecord["response"]> }
  /** The first request is still being processed: 409. */
  | { kind: "in-flight" }
  /** The first request died holding the key, or the record expired: take the key over. */
  | { kind: "take-over"; abandonedBatchId?: string };

export function decideExisting(record: IdempotencyRecord, fingerprint: string, now: number): KeyDecision {
  if (record.expiresAt <= now) return { kind: "take-over" };
  if (record.fingerprint !== fingerprint) return { kind: "mismatch" };
  if (record.state === "done" && record.response) return { kind: "replay", response: record.response };
  if (now - record.claimedAt < IN_FLIGHT_LEASE_MS) return { kind: "in-flight" };
  return { kind: "take-over", abandonedBatchId: record.batchId };
}
