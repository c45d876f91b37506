import { describe, expect, it } from "vitest";
import {
  canMoveDeregistration,
  decideAfterFailure,
  decideAfterLookup,
  DEREGISTRATION_STATES,
  deregistrationBatchStatus,
  emptyDeregistrationCounts,
  isFinalDeregistration,
  mayAttempt,
  tenantNoLongerAllowed,
} from "../../src/deregistration/deregistrationState.js";
import type { AutopilotDeviceIdentity } from "../../src/graph/importedDevice.js";

const listed = (...devices: [id: string, serial: string][]) =>
  devices.map(([id, serialNumber]) => ({ id, serialNumber }) as AutopilotDeviceIdentity);

describe("deregistration states", () => {
  it("ends in deregistered, not_found or failed, and nothing leaves a final state", () => {
    expect(DEREGISTRATION_STATES.filter(isFinalDeregistration)).toEqual(["deregistered", "not_found", "failed"]);
    for (const from of DEREGISTRATION_STATES.filter(isFinalDeregistration)) {
      for (const to of DEREGISTRATION_STATES) expect(canMoveDeregistration(from, to), `${from} → ${to}`).toBe(false);
    }
  });

  it("reaches deregistered only through deregistering (the claim records the device being deleted first)", () => {
    expect(canMoveDeregistration("queued", "deregistered")).toBe(false);
    expect(canMoveDeregistration("deregistering", "deregistered")).toBe(true);
    expect(canMoveDeregistration("queued", "not_found")).toBe(true);
    expect(canMoveDeregistration("deregistering", "queued")).toBe(false);
  });

  it("lets a message act only for the attempt it carries: the next one, or the same one again after its host died", () => {
    expect(mayAttempt({ state: "queued", attempts: 0 }, 1)).toBe(true);
    expect(mayAttempt({ state: "queued", attempts: 0 }, 2)).toBe(false);
    expect(mayAttempt({ state: "deregistering", attempts: 2 }, 2)).toBe(true);
    expect(mayAttempt({ state: "deregistering", attempts: 2 }, 3)).toBe(true);
    expect(mayAttempt({ state: "deregistering", attempts: 2 }, 1)).toBe(false);
    expect(mayAttempt({ state: "deregistered", attempts: 1 }, 1)).toBe(false);
  });

  it("counts a batch running until every device is final; a serial the tenant did not have keeps it from succeeded", () => {
    const counts = (c: Partial<ReturnType<typeof emptyDeregistrationCounts>>) => ({ ...emptyDeregistrationCounts(), ...c });
    expect(deregistrationBatchStatus(3, counts({ deregistered: 2, deregistering: 1 }))).toBe("running");
    expect(deregistrationBatchStatus(3, counts({ deregistered: 3 }))).toBe("succeeded");
    expect(deregistrationBatchStatus(3, counts({ deregistered: 2, not_found: 1 }))).toBe("partially_succeeded");
    expect(deregistrationBatchStatus(2, counts({ not_found: 1, failed: 1 }))).toBe("failed");
  });
});

describe("decideAfterLookup", () => {
  it("deletes the one Autopilot device whose serial number is exactly this one (trimmed, any case), not contains()'s other matches", () => {
    expect(decideAfterLookup("ab12", listed(["x", "AB123"], ["y", " AB12 "]), true)).toEqual({ kind: "delete", autopilotDeviceId: "y" });
  });

  it("deletes none of several devices with the serial number, and says which", () => {
    const decision = decideAfterLookup("S1", listed(["x", "S1"], ["y", "s1"]), true);
    expect(decision).toMatchObject({ kind: "failed", errorCode: "SerialNumberNotUnique" });
    expect(decision.kind === "failed" && decision.reason).toContain("x, y");
  });

  it("is not_found only after reading the whole list; an incomplete list looks again", () => {
    expect(decideAfterLookup("S1", listed(["x", "S2"]), true)).toMatchObject({ kind: "not_found" });
    expect(decideAfterLookup("S1", listed(["x", "S2"]), false)).toMatchObject({ kind: "retry", errorCode: "LookupIncomplete" });
  });

  it("takes a device gone after an earlier run recorded its delete for deregistered by that delete", () => {
    expect(decideAfterLookup("S1", [], true, "ap-1")).toEqual({ kind: "deregistered", autopilotDeviceId: "ap-1" });
    // Still there: that run died before its delete reached Graph; delete it now.
    expect(decideAfterLookup("S1", listed(["ap-1", "S1"]), true, "ap-1")).toEqual({ kind: "delete", autopilotDeviceId: "ap-1" });
  });
});

describe("decideAfterFailure", () => {
  it("waits out a 429 without counting it as an attempt", () => {
    expect(decideAfterFailure({ kind: "http-error", status: 429, retryAfterMs: 7_000 }, "t", 8, 8, "delete")).toEqual({
      kind: "throttled",
      retryAfterMs: 7_000,
    });
  });

  it("waits out a 503 with Retry-After as a 429 (Intune unavailable for a stated while), without counting it", () => {
    expect(decideAfterFailure({ kind: "http-error", status: 503, retryAfterMs: 30_000 }, "t", 8, 8, "delete")).toEqual({
      kind: "throttled",
      retryAfterMs: 30_000,
    });
  });

  it("tries a transient failure again until the attempts are spent, then fails saying so", () => {
    expect(decideAfterFailure({ kind: "http-error", status: 503 }, "t", 1, 3, "lookup")).toMatchObject({ kind: "retry" });
    const last = decideAfterFailure({ kind: "network-error", message: "socket hang up" }, "t", 3, 3, "delete");
    expect(last).toMatchObject({ kind: "failed", errorCode: "NetworkError" });
    expect(last.kind === "failed" && last.reason).toContain("gave up after 3 attempts");
  });

  it("takes a 404 on the delete for a device deleted meanwhile: not found", () => {
    expect(decideAfterFailure({ kind: "http-error", status: 404, code: "NotFound" }, "t", 1, 8, "delete")).toMatchObject({
      kind: "not_found",
    });
  });

  it("explains a refused delete: a device still enrolled must leave Intune first", () => {
    const decision = decideAfterFailure(
      { kind: "http-error", status: 400, code: "BadRequest", message: "The device is enrolled in Intune." },
      "t",
      1,
      8,
      "delete",
    );
    expect(decision).toMatchObject({ kind: "failed", errorCode: "BadRequest" });
    expect(decision.kind === "failed" && decision.reason).toMatch(/removed from Intune.*then submit it again/);
  });

  it("fails at once when the tenant refuses the app, and when the partner lost the tenant", () => {
    expect(decideAfterFailure({ kind: "http-error", status: 403, code: "Forbidden", message: "no" }, "t", 1, 8, "lookup")).toMatchObject({
      kind: "failed",
      errorCode: "Forbidden",
    });
    expect(tenantNoLongerAllowed("t")).toMatchObject({ kind: "failed", errorCode: "TenantNotAllowed" });
  });
});
