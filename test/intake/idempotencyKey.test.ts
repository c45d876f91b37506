import { describe, expect, it } from "vitest";
import {
  decideExisting,
  IN_FLIGHT_LEASE_MS,
  readIdempotencyKey,
  requestFingerprint,
  type IdempotencyRecord,
} from "../../src/intake/idempotencyKey.js";

describe("Idempotency-Key header", () => {
  it.each([
    [null, { kind: "none" }],
    ['"8e03978e-40d5-43e8-bc93-6894a57f9324"', { kind: "key", key: "8e03978e-40d5-43e8-bc93-6894a57f9324" }],
    ["order-42/retry", { kind: "key", key: "order-42/retry" }],
    ["", { kind: "invalid" }],
    ['""', { kind: "invalid" }],
    ["x".repeat(256), { kind: "invalid" }],
    ["caf\u00e9", { kind: "invalid" }],
    ['a"b', { kind: "invalid" }],
  ])("%j → %j", (header, expected) => {
    expect(readIdempotencyKey(header)).toEqual(expected);
  });
});

describe("request fingerprint", () => {
  it("changes with the body or the query string, not with a leading '?'", () => {
    const body = Buffer.from("a,b\n1,2\n");
    expect(requestFingerprint("?tenantId=t", body)).toBe(requestFingerprint("tenantId=t", body));
    expect(requestFingerprint("?tenantId=t", body)).not.toBe(requestFingerprint("?tenantId=u", body));
    expect(requestFingerprint("?tenantId=t", body)).not.toBe(requestFingerprint("?tenantId=t", Buffer.from("a,b\n1,3\n")));
    // the separator keeps query and body apart
    expect(requestFingerprint("a", Buffer.from("b"))).not.toBe(requestFingerprint("", Buffer.from("a\nb")));
  });
});

describe("a second request under a key", () => {
  const now = 1_800_000_000_000;
  const record: IdempotencyRecord = {
    fingerprint: "f1",
    state: "in-flight",
    batchId: "b1",
    claimedAt: now - 1_000,
    expiresAt: now + 86_400_000,
  };
  const response = { status: 202, headers: { location: "/api/imports/b1" }, body: "{}" };

  it("with another request is 422, whatever the first one's state", () => {
    expect(decideExisting(record, "f2", now)).toEqual({ kind: "mismatch" });
    expect(decideExisting({ ...record, state: "done", response }, "f2", now)).toEqual({ kind: "mismatch" });
  });
  it("while the first is processed is 409", () => {
    expect(decideExisting(record, "f1", now)).toEqual({ kind: "in-flight" });
  });
  it("after the first finished replays its answer", () => {
    expect(decideExisting({ ...record, state: "done", response }, "f1", now)).toEqual({ kind: "replay", response });
  });
  it("takes over a key whose first request died holding it, naming the batch it may have recorded", () => {
    expect(decideExisting({ ...record, claimedAt: now - IN_FLIGHT_LEASE_MS }, "f1", now)).toEqual({
      kind: "take-over",
      abandonedBatchId: "b1",
    });
  });
  it("treats an expired record as absent", () => {
    expect(decideExisting({ ...record, state: "done", response, expiresAt: now }, "f2", now)).toEqual({ kind: "take-over" });
  });
});
