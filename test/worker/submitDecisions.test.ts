import { describe, expect, it } from "vitest";
import type { GraphFailureResult } from "../../src/graph/graphClient.js";
import type { ImportedDeviceIdentity } from "../../src/graph/importedDevice.js";
import type { DeviceFields } from "../../src/storage/importEntities.js";
import { MAX_RESCHEDULES, MAX_WAIT_IN_FUNCTION_MS } from "../../src/model/pacing.js";
import { unclearMessage } from "../../src/worker/recordOwnership.js";
import {
  decideAnswer,
  decideArrival,
  decideRetry,
  decideSlot,
  decideSlotAfterStall,
  doubtOf,
  type AnswerDecision,
  type ArrivalDecision,
  type Attempt,
  type RetryDecision,
  type SlotDecision,
} from "../../src/worker/submitDecisions.js";

type Row = Pick<DeviceFields, "state" | "attempts" | "claimedBy" | "nextAttemptAt" | "graphId">;
const row = (fields: Partial<Row>): Row => ({ state: "queued", attempts: 0, ...fields });
const NEXT = "2026-01-01T00:01:00.000Z";

describe("decideArrival", () => {
  it.each<[string, Row, { attempt: number; slotAt?: number }, ArrivalDecision]>([
    ["a final device", row({ state: "imported", attempts: 1 }), { attempt: 2 }, { kind: "drop" }],
    ["a device past this attempt", row({ state: "retrying", attempts: 2 }), { attempt: 2 }, { kind: "drop" }],
    ["a device another copy holds", row({ state: "submitting", attempts: 1, claimedBy: "other" }), { attempt: 1 }, { kind: "drop" }],
    [
      "this message's retry whose next message never went",
      row({ state: "retrying", attempts: 1, claimedBy: "me", nextAttemptAt: NEXT }),
      { attempt: 1 },
      { kind: "resendRetry", slotAt: Date.parse(NEXT) },
    ],
    ["that retry without its next slot", row({ state: "retrying", attempts: 1, claimedBy: "me" }), { attempt: 1 }, { kind: "resendRetry" }],
    [
      "this message's device a poll round found",
      row({ state: "submitted", attempts: 1, claimedBy: "me" }),
      { attempt: 1 },
      { kind: "submitted" },
    ],
    [
      "this message's device with its record id stored",
      row({ state: "submitting", attempts: 1, claimedBy: "me", graphId: "g" }),
      { attempt: 1 },
      { kind: "submitted" },
    ],
    [
      "this message's claim, nothing after it: finishes now, slot or not",
      row({ state: "submitting", attempts: 1, claimedBy: "me" }),
      { attempt: 1, slotAt: 5_000 },
      { kind: "attempt", resuming: true },
    ],
    [
      "a fresh message with a slot",
      row({ state: "queued" }),
      { attempt: 1, slotAt: 5_000 },
      { kind: "attempt", resuming: false, slotAt: 5_000 },
    ],
    ["a fresh message without a slot", row({ state: "retrying", attempts: 1 }), { attempt: 2 }, { kind: "attempt", resuming: false }],
  ])("%s", (_name, device, message, expected) => {
    expect(decideArrival(device, message, "me")).toEqual(expected);
  });
});

describe("decideSlot", () => {
  const slotAt = 100_000;
  const lateToleranceMs = 200;
  it.each<
    [
      string,
      { shiftAt?: number; rescheduled?: number },
      { now: number; shiftMs?: number; stallRecorded?: boolean; storageAway?: boolean; catchUpMs?: number },
      SlotDecision,
    ]
  >([
    ["on time", {}, { now: slotAt }, { kind: "go", due: slotAt }],
    ["early by what a function may wait", { shiftAt: 0 }, { now: slotAt - MAX_WAIT_IN_FUNCTION_MS }, { kind: "go", due: slotAt }],
    ["earlier than that", { shiftAt: 0 }, { now: slotAt - MAX_WAIT_IN_FUNCTION_MS - 1 }, { kind: "defer", due: slotAt }],
    [
      "a pause since the slot was given moves it back",
      { shiftAt: 1_000 },
      { now: slotAt, shiftMs: 6_000 },
      { kind: "defer", due: slotAt + 5_000 },
    ],
    ["a slot given without its shift counts from the shift now", {}, { now: slotAt, shiftMs: 6_000 }, { kind: "go", due: slotAt }],
    ["a shift never moves a slot earlier", { shiftAt: 6_000 }, { now: slotAt - 500, shiftMs: 1_000 }, { kind: "go", due: slotAt }],
    ["late within the tolerance", { shiftAt: 0 }, { now: slotAt + lateToleranceMs }, { kind: "go", due: slotAt }],
    [
      "later than that: the tenant stood still",
      { shiftAt: 0 },
      { now: slotAt + lateToleranceMs + 1 },
      { kind: "stall", lateMs: lateToleranceMs + 1 },
    ],
    [
      "late after many reschedules: still a stall first",
      { shiftAt: 0, rescheduled: MAX_RESCHEDULES },
      { now: slotAt + 5_000 },
      { kind: "stall", lateMs: 5_000 },
    ],
    [
      "late without an outage (a busy instance): a new slot, the schedule left alone",
      { shiftAt: 0 },
      { now: slotAt + 5_000, storageAway: false },
      { kind: "reschedule", lateMs: 5_000, rescheduled: 1 },
    ],
    [
      "the stall recorded moved it back: on time",
      { shiftAt: 0 },
      { now: slotAt + 5_000, shiftMs: 5_000, stallRecorded: true },
      { kind: "go", due: slotAt + 5_000 },
    ],
    [
      "the stall recorded moved it past the wait: back to the queue",
      { shiftAt: 0 },
      { now: slotAt + 5_000, shiftMs: 7_000, stallRecorded: true },
      { kind: "defer", due: slotAt + 7_000 },
    ],
    [
      "still late once the stall is recorded (it came back out of order)",
      { shiftAt: 0 },
      { now: slotAt + lateToleranceMs + 1, stallRecorded: true },
      { kind: "reschedule", lateMs: lateToleranceMs + 1, rescheduled: 1 },
    ],
    [
      "late again",
      { shiftAt: 0, rescheduled: MAX_RESCHEDULES - 1 },
      { now: slotAt + 5_000, stallRecorded: true },
      { kind: "reschedule", lateMs: 5_000, rescheduled: MAX_RESCHEDULES },
    ],
    [
      "late just after an outage, by no more than the time since storage came back: caught up, no stall",
      { shiftAt: 0 },
      { now: slotAt + lateToleranceMs + 900, catchUpMs: 900 },
      { kind: "go", due: slotAt },
    ],
    [
      "later than that just after an outage: the tenant stood still",
      { shiftAt: 0 },
      { now: slotAt + lateToleranceMs + 901, catchUpMs: 900 },
      { kind: "stall", lateMs: lateToleranceMs + 901 },
    ],
    [
      "once the stall is recorded, late by what is caught up: goes",
      { shiftAt: 0 },
      { now: slotAt + 3_000 + lateToleranceMs + 900, shiftMs: 3_000, stallRecorded: true, catchUpMs: 900 },
      { kind: "go", due: slotAt + 3_000 },
    ],
    [
      "once the stall is recorded, later than what is caught up: a new slot",
      { shiftAt: 0 },
      { now: slotAt + 3_000 + lateToleranceMs + 901, shiftMs: 3_000, stallRecorded: true, catchUpMs: 900 },
      { kind: "reschedule", lateMs: lateToleranceMs + 901, rescheduled: 1 },
    ],
    [
      "late once too often: goes anyway",
      { shiftAt: 0, rescheduled: MAX_RESCHEDULES },
      { now: slotAt + 5_000, stallRecorded: true },
      { kind: "go", due: slotAt },
    ],
  ])("%s", (_name, slot, { now, shiftMs = 0, stallRecorded, storageAway, catchUpMs }, expected) => {
    // A row marked stallRecorded is judged as the worker judges it once the stall is recorded.
    const decide = stallRecorded ? decideSlotAfterStall : decideSlot;
    // Storage was away since every slot here was due (an outage), unless the row says otherwise.
    expect(decide({ slotAt, ...slot }, { now, shiftMs, lateToleranceMs, lateForOutage: () => storageAway ?? true, catchUpMs })).toEqual(
      expected,
    );
  });
});

describe("doubtOf", () => {
  const UPDATED = "2026-01-01T00:00:00.000Z";
  const NOW = "2026-01-01T00:00:09.000Z";
  const SINCE = "2025-12-31T23:59:00.000Z";
  it.each<
    [
      string,
      Pick<DeviceFields, "inDoubt" | "inDoubtSince">,
      { resuming: boolean; dequeueCount: number; createSent: boolean },
      { doubtful: boolean; doubtSince: string },
    ]
  >([
    [
      "the last attempt's answer was lost",
      { inDoubt: true, inDoubtSince: SINCE },
      { resuming: false, dequeueCount: 1, createSent: false },
      { doubtful: true, doubtSince: SINCE },
    ],
    [
      "lost, with no time of its own: from the row's last write",
      { inDoubt: true },
      { resuming: false, dequeueCount: 1, createSent: false },
      { doubtful: true, doubtSince: UPDATED },
    ],
    [
      "a fresh attempt, redelivered before it claimed anything",
      {},
      { resuming: false, dequeueCount: 3, createSent: false },
      { doubtful: false, doubtSince: UPDATED },
    ],
    [
      "resumed on its first delivery, before any create",
      {},
      { resuming: true, dequeueCount: 1, createSent: false },
      { doubtful: false, doubtSince: UPDATED },
    ],
    [
      "resumed on a redelivery: the delivery before may have sent one at any time up to now",
      {},
      { resuming: true, dequeueCount: 2, createSent: false },
      { doubtful: true, doubtSince: NOW },
    ],
    [
      "resumed after this invocation sent one",
      {},
      { resuming: true, dequeueCount: 1, createSent: true },
      { doubtful: true, doubtSince: NOW },
    ],
  ])("%s", (_name, doubt, resumed, expected) => {
    expect(doubtOf({ ...doubt, updatedAt: UPDATED }, { ...resumed, now: NOW })).toEqual(expected);
  });
});

describe("decideAnswer", () => {
  const AT = "2026-01-01T00:05:00.000Z";
  const DOUBT = "2026-01-01T00:00:00.000Z";
  const facts = (device: Partial<Pick<DeviceFields, "onExisting" | "failures">> = {}) => ({
    device: { tenantId: "contoso", ...device },
    at: AT,
    doubtSince: DOUBT,
    consentUrlFor: (tenantId: string) => `https://consent/${tenantId}`,
  });
  const record = (state?: ImportedDeviceIdentity["state"]): ImportedDeviceIdentity => ({ id: "rec-1", ...(state ? { state } : {}) });
  const found = (kind: "created" | "ours" | "matched", r: ImportedDeviceIdentity, status = 201): Attempt => ({
    kind,
    result: { kind: "ok", status, body: r },
  });
  const failed = (result: GraphFailureResult, doubtOpen = false): Attempt => ({ kind: "failed", result, doubtOpen });
  const several = { kind: "unclear" as const, recordIds: ["a", "b"], reason: "several-records" as const };

  it.each<[string, Attempt, Partial<Pick<DeviceFields, "onExisting" | "failures">>, AnswerDecision]>([
    [
      "a lookup too soon to trust the list: looks again, no failure counted",
      { kind: "wait", untilMs: 1_234, result: {} },
      { failures: 2 },
      {
        kind: "retry",
        retry: {
          failures: 2,
          notBefore: 1_234,
          doubtSince: DOUBT,
          errorCode: "ImportLookupPending",
          errorMessage: expect.stringContaining("looking for its record again"),
        },
      },
    ],
    [
      "a lookup that cannot tell which record is ours",
      { kind: "unclear", decision: several, result: {} },
      {},
      { kind: "fail", reason: "unclear", errorCode: "ImportOwnershipUnclear", errorMessage: unclearMessage(several) },
    ],
    [
      "a create whose import runs",
      found("created", record({ deviceImportStatus: "pending" })),
      {},
      {
        kind: "settle",
        record: record({ deviceImportStatus: "pending" }),
        foundBy: "created",
        status: 201,
        settlement: { kind: "importing" },
      },
    ],
    [
      "a create without the import's state",
      found("created", record()),
      {},
      { kind: "settle", record: record(), foundBy: "created", status: 201, settlement: { kind: "importing" } },
    ],
    [
      "our record found, its import complete",
      found("ours", record({ deviceImportStatus: "complete", deviceRegistrationId: "reg-1" }), 200),
      {},
      {
        kind: "settle",
        record: record({ deviceImportStatus: "complete", deviceRegistrationId: "reg-1" }),
        foundBy: "ours",
        status: 200,
        settlement: { kind: "imported", deviceRegistrationId: "reg-1" },
      },
    ],
    [
      "a matched record, complete without a registration id",
      found("matched", record({ deviceImportStatus: "complete" }), 200),
      {},
      {
        kind: "settle",
        record: record({ deviceImportStatus: "complete" }),
        foundBy: "matched",
        status: 200,
        settlement: { kind: "imported" },
      },
    ],
    [
      "an 806 the batch takes over (onExisting update)",
      found("created", record({ deviceImportStatus: "error", deviceErrorCode: 806 })),
      { onExisting: "update" },
      {
        kind: "settle",
        record: record({ deviceImportStatus: "error", deviceErrorCode: 806 }),
        foundBy: "created",
        status: 201,
        settlement: { kind: "importing" },
      },
    ],
    [
      "an 806 otherwise",
      found("created", record({ deviceImportStatus: "error", deviceErrorCode: 806 })),
      {},
      {
        kind: "settle",
        record: record({ deviceImportStatus: "error", deviceErrorCode: 806 }),
        foundBy: "created",
        status: 201,
        settlement: {
          kind: "importError",
          errorCode: "806",
          errorName: "ZtdDeviceAlreadyAssigned",
          errorMessage: expect.stringContaining("already registered in this tenant"),
        },
      },
    ],
    [
      "an import error known by its name only",
      found("created", record({ deviceImportStatus: "error", deviceErrorName: "ZtdDeviceDuplicated" })),
      {},
      {
        kind: "settle",
        record: record({ deviceImportStatus: "error", deviceErrorName: "ZtdDeviceDuplicated" }),
        foundBy: "created",
        status: 201,
        settlement: {
          kind: "importError",
          errorCode: "ZtdDeviceDuplicated",
          errorName: "ZtdDeviceDuplicated",
          errorMessage: expect.stringContaining("imported more than once"),
        },
      },
    ],
    [
      "an import error with neither code nor name",
      found("created", record({ deviceImportStatus: "error" })),
      {},
      {
        kind: "settle",
        record: record({ deviceImportStatus: "error" }),
        foundBy: "created",
        status: 201,
        settlement: { kind: "importError", errorCode: "ImportError", errorName: undefined, errorMessage: "Intune reported import error." },
      },
    ],
    [
      "a tenant without consent",
      failed({ kind: "tenant-access", problem: "consent-required", message: "AADSTS65001" }),
      {},
      {
        kind: "fail",
        reason: "tenant",
        errorCode: "TenantConsentRequired",
        errorMessage: expect.stringContaining("https://consent/contoso"),
      },
    ],
    [
      "Intune's 403",
      failed({ kind: "http-error", status: 403, code: "Forbidden", message: "no." }),
      {},
      { kind: "fail", reason: "tenant", errorCode: "Forbidden", errorMessage: expect.stringContaining("no."), status: 403 },
    ],
    [
      "a refused device",
      failed({ kind: "http-error", status: 400, code: "BadRequest", message: "bad hash" }),
      {},
      { kind: "fail", reason: "rejected", errorCode: "BadRequest", errorMessage: "bad hash", status: 400 },
    ],
    [
      "a 429: nothing was created",
      failed({ kind: "http-error", status: 429, retryAfterMs: 3_000 }),
      {},
      {
        kind: "transient",
        failure: { kind: "transient", errorCode: "HTTP429", errorMessage: "Graph answered HTTP 429", retryAfterMs: 3_000 },
        status: 429,
      },
    ],
    [
      "a 503: nothing was created",
      failed({ kind: "http-error", status: 503 }),
      {},
      { kind: "transient", failure: { kind: "transient", errorCode: "HTTP503", errorMessage: "Graph answered HTTP 503" }, status: 503 },
    ],
    [
      "a 503 of a lookup that left the doubt open: doubt kept from before",
      failed({ kind: "http-error", status: 503 }, true),
      {},
      {
        kind: "transient",
        failure: { kind: "transient", errorCode: "HTTP503", errorMessage: "Graph answered HTTP 503" },
        status: 503,
        inDoubtSince: DOUBT,
      },
    ],
    [
      "a 504 may hide a create: doubt from now",
      failed({ kind: "http-error", status: 504 }),
      {},
      {
        kind: "transient",
        failure: { kind: "transient", errorCode: "HTTP504", errorMessage: "Graph answered HTTP 504" },
        status: 504,
        inDoubtSince: AT,
      },
    ],
    [
      "a 500 after an open doubt: doubt from now",
      failed({ kind: "http-error", status: 500 }, true),
      {},
      {
        kind: "transient",
        failure: { kind: "transient", errorCode: "HTTP500", errorMessage: "Graph answered HTTP 500" },
        status: 500,
        inDoubtSince: AT,
      },
    ],
    [
      "a dropped connection",
      failed({ kind: "network-error", message: "socket hang up" }),
      {},
      { kind: "transient", failure: { kind: "transient", errorCode: "NetworkError", errorMessage: "socket hang up" }, inDoubtSince: AT },
    ],
  ])("%s", (_name, attempt, device, expected) => {
    expect(decideAnswer(attempt, facts(device))).toEqual(expected);
  });
});

describe("decideRetry", () => {
  const AT = "2026-01-01T00:05:00.000Z";
  const at = Date.parse(AT);
  const retry = { maxAttempts: 5, baseDelayMs: 1_000, maxDelayMs: 60_000 };
  const transient = (
    status: number | undefined,
    extra: { retryAfterMs?: number; inDoubtSince?: string } = {},
  ): Extract<AnswerDecision, { kind: "transient" }> => ({
    kind: "transient",
    failure: {
      kind: "transient",
      errorCode: "E",
      errorMessage: "m",
      ...(extra.retryAfterMs !== undefined ? { retryAfterMs: extra.retryAfterMs } : {}),
    },
    ...(status !== undefined ? { status } : {}),
    ...(extra.inDoubtSince !== undefined ? { inDoubtSince: extra.inDoubtSince } : {}),
  });

  // Draws in turn from `draws`: the throttle's pause takes the first, the backoff the next.
  it.each<
    [string, Extract<AnswerDecision, { kind: "transient" }>, { canceled?: boolean; failures: number; draws?: number[] }, RetryDecision]
  >([
    ["the batch was canceled and nothing was created", transient(500), { canceled: true, failures: 0 }, { kind: "cancel" }],
    [
      "the batch was canceled but a record may exist: looked for first",
      transient(504, { inDoubtSince: AT }),
      { canceled: true, failures: 0, draws: [0.5] },
      { kind: "retry", retry: { failures: 1, doubtSince: AT, errorCode: "E", errorMessage: "m", notBefore: at + 750 } },
    ],
    [
      "a first transient failure backs off",
      transient(500),
      { failures: 0, draws: [0.5] },
      { kind: "retry", retry: { failures: 1, errorCode: "E", errorMessage: "m", notBefore: at + 750 } },
    ],
    [
      "the backoff doubles",
      transient(500),
      { failures: 2, draws: [1] },
      { kind: "retry", retry: { failures: 3, errorCode: "E", errorMessage: "m", notBefore: at + 4_000 } },
    ],
    [
      "never sooner than Retry-After",
      transient(504, { retryAfterMs: 9_000 }),
      { failures: 0, draws: [1] },
      { kind: "retry", retry: { failures: 1, errorCode: "E", errorMessage: "m", notBefore: at + 9_000 } },
    ],
    [
      "a 503 with Retry-After (Intune unavailable) pauses the tenant for it and costs no failure",
      transient(503, { retryAfterMs: 9_000 }),
      { failures: 4, draws: [0] },
      { kind: "retry", retry: { failures: 4, errorCode: "E", errorMessage: "m", throttledForMs: 9_000, notBefore: at + 9_000 } },
    ],
    [
      "a 503 without Retry-After is the device's transient failure: backed off and counted",
      transient(503),
      { failures: 0, draws: [0.5] },
      { kind: "retry", retry: { failures: 1, errorCode: "E", errorMessage: "m", notBefore: at + 750 } },
    ],
    [
      "a 429 pauses the tenant for its Retry-After and costs no failure",
      transient(429, { retryAfterMs: 3_000 }),
      { failures: 2, draws: [0] },
      { kind: "retry", retry: { failures: 2, errorCode: "E", errorMessage: "m", throttledForMs: 3_000, notBefore: at + 3_000 } },
    ],
    [
      "a 429 without Retry-After pauses for a first backoff step",
      transient(429),
      { failures: 2, draws: [0, 1] },
      { kind: "retry", retry: { failures: 2, errorCode: "E", errorMessage: "m", throttledForMs: 500, notBefore: at + 2_000 } },
    ],
    [
      "the last allowed failure",
      transient(500),
      { failures: 3, draws: [0] },
      { kind: "retry", retry: { failures: 4, errorCode: "E", errorMessage: "m", notBefore: at + 4_000 } },
    ],
    [
      "one failure too many: retries exhausted",
      transient(500),
      { failures: 4 },
      {
        kind: "fail",
        errorCode: "RetriesExhausted",
        errorMessage: "retries exhausted after 5 transient failures; last error: E: m",
        failures: 5,
      },
    ],
    [
      "a 429 at the limit is not a failure",
      transient(429, { retryAfterMs: 1_000 }),
      { failures: 4, draws: [0] },
      { kind: "retry", retry: { failures: 4, errorCode: "E", errorMessage: "m", throttledForMs: 1_000, notBefore: at + 4_000 } },
    ],
    [
      "a 429 past the limit still ends it",
      transient(429, { retryAfterMs: 1_000 }),
      { failures: 5 },
      {
        kind: "fail",
        errorCode: "RetriesExhausted",
        errorMessage: "retries exhausted after 5 transient failures; last error: E: m",
        failures: 5,
      },
    ],
  ])("%s", (_name, answer, { canceled = false, failures, draws = [] }, expected) => {
    const queue = [...draws];
    const random = () => {
      const next = queue.shift();
      if (next === undefined) throw new Error("an unexpected draw");
      return next;
    };
    expect(decideRetry(answer, { canceled, failures, retry, at: AT, random })).toEqual(expected);
    expect(queue).toEqual([]);
  });
});

describe("decideSlot without word of storage", () => {
  it("takes a late write for a slow moment, not an outage: a new slot", () => {
    expect(decideSlot({ slotAt: 100_000, shiftAt: 0 }, { now: 105_000, shiftMs: 0, lateToleranceMs: 200 })).toEqual({
      kind: "reschedule",
      lateMs: 5_000,
      rescheduled: 1,
    });
  });
});
