import { describe, expect, it } from "vitest";
// The browser module itself, as the page loads it: plain JavaScript, no build step.
import {
  ago,
  canErase,
  countsInOrder,
  deregistrationProblems,
  deviceModel,
  describeModels,
  describeNotification,
  eraseOutcome,
  explainFailure,
  nextRefreshMs,
  Pager,
  progressOf,
  readinessOf,
  retentionOf,
  retryAfterMs,
  safeNextLink,
  statusLabel,
} from "../../src/dashboard/public/view.js";

describe("progressOf", () => {
  it("counts imported, failed and canceled devices as final", () => {
    expect(progressOf({ deviceCount: 10, counts: { queued: 1, submitted: 2, imported: 4, failed: 2, canceled: 1 } })).toEqual({
      final: 7,
      total: 10,
      percent: 70,
    });
  });
  it("shows 100 % only when every device is final", () => {
    expect(progressOf({ deviceCount: 1000, counts: { imported: 999, submitted: 1 } }).percent).toBe(99);
    expect(progressOf({ deviceCount: 6, counts: { imported: 4, failed: 2 } }).percent).toBe(100);
  });
  it("never passes 100 % and treats an empty batch as done", () => {
    expect(progressOf({ deviceCount: 2, counts: { imported: 3 } }).percent).toBe(100);
    expect(progressOf({ deviceCount: 0, counts: {} }).percent).toBe(100);
  });
});

describe("countsInOrder", () => {
  it("lists states in the order devices move through them, unknown ones last", () => {
    const counts = { failed: 2, zeta: 1, queued: 3, imported: 4 };
    expect(countsInOrder(counts).map((c: { state: string }) => c.state)).toEqual(["queued", "imported", "failed", "zeta"]);
  });
  it("can leave out states with no devices", () => {
    expect(countsInOrder({ queued: 0, imported: 4, failed: 0 }, { nonZeroOnly: true })).toEqual([{ state: "imported", count: 4 }]);
  });
});

describe("refresh timing", () => {
  const now = Date.parse("2026-11-29T02:00:00Z");
  it("refreshes every 5 s unless the API asks for longer", () => {
    expect(nextRefreshMs([undefined, null], now)).toBe(5_000);
    expect(nextRefreshMs(["1"], now)).toBe(5_000);
    expect(nextRefreshMs(["1", "30"], now)).toBe(30_000);
  });
  it("reads Retry-After as seconds or as an HTTP date", () => {
    expect(retryAfterMs("12", now)).toBe(12_000);
    expect(retryAfterMs("Sun, 29 Nov 2026 02:00:20 GMT", now)).toBe(20_000);
    expect(retryAfterMs("soon", now)).toBeUndefined();
  });
  it("caps a long Retry-After at five minutes", () => {
    expect(nextRefreshMs(["86400"], now)).toBe(300_000);
  });
});

describe("explainFailure", () => {
  it("says plainly that the key was refused, or that the API is unreachable", () => {
    expect(explainFailure(401)).toMatchObject({ kind: "unauthorized", message: expect.stringContaining("did not accept this API key") });
    expect(explainFailure("network")).toMatchObject({ kind: "unreachable", message: expect.stringContaining("cannot be reached") });
    expect(explainFailure(503).kind).toBe("server");
    expect(explainFailure(404, "No import batch has the id 'x'.").message).toBe("No import batch has the id 'x'.");
  });
});

describe("safeNextLink", () => {
  it("follows only paths on this origin, so the key is never sent elsewhere", () => {
    expect(safeNextLink("/api/imports?continuationToken=abc")).toBe("/api/imports?continuationToken=abc");
    expect(safeNextLink("//evil.example/api")).toBeUndefined();
    expect(safeNextLink("https://evil.example/api")).toBeUndefined();
    expect(safeNextLink("/\\evil.example")).toBeUndefined();
    expect(safeNextLink(undefined)).toBeUndefined();
  });
});

describe("Pager", () => {
  it("remembers the pages behind, since the API links only forward", () => {
    const pager = new Pager("/p1");
    pager.forward("/p2");
    pager.forward("/p3");
    expect([pager.current, pager.pageNumber, pager.hasPrevious]).toEqual(["/p3", 3, true]);
    pager.back();
    pager.back();
    pager.back();
    expect([pager.current, pager.pageNumber, pager.hasPrevious]).toEqual(["/p1", 1, false]);
  });
});

describe("labels", () => {
  it("names batch statuses for people, and passes unknown ones through", () => {
    expect(statusLabel("partially_succeeded")).toBe("Partly succeeded");
    expect(statusLabel("something_new")).toBe("something_new");
    expect(ago("2026-11-29T01:57:00Z", Date.parse("2026-11-29T02:00:00Z"))).toBe("3 min ago");
  });
});

describe("describeNotification", () => {
  it("says where the completion webhook goes and how delivery went", () => {
    expect(describeNotification(undefined)).toBeUndefined();
    expect(describeNotification({ callbackHost: "hooks.example.com" })).toBe("hooks.example.com, when the batch is final");
    expect(describeNotification({ callbackHost: "hooks.example.com", state: "pending", attempts: [] })).toBe(
      "Sending to hooks.example.com",
    );
    expect(
      describeNotification({ callbackHost: "hooks.example.com", state: "delivered", attempts: [{ status: 503 }, { status: 204 }] }),
    ).toBe("Delivered to hooks.example.com (2 attempts)");
    expect(describeNotification({ callbackHost: "h.example", state: "pending", attempts: [{ error: "timeout" }] })).toBe(
      "Retrying h.example (1 attempt, last: timeout)",
    );
    expect(
      describeNotification({ callbackHost: "h.example", state: "failed", attempts: [{ status: 500 }], reason: "gave up after 24 h" }),
    ).toBe("Not delivered to h.example after 1 attempt: gave up after 24 h");
  });
});

describe("readinessOf", () => {
  it("says how many imported devices are ready, only for a batch followed to its profiles", () => {
    expect(readinessOf({ followUntil: "imported" })).toBeUndefined();
    expect(readinessOf({ followUntil: "profileAssigned", profiles: { waiting: 2, assigned: 5, notAssigned: 1 } })).toEqual({
      ready: 5,
      waiting: 2,
      notAssigned: 1,
      text: "5 ready · 2 waiting for a profile · 1 without a profile",
    });
    expect(readinessOf({ followUntil: "profileAssigned", profiles: { waiting: 0, assigned: 3, notAssigned: 0 } })?.text).toBe("3 ready");
  });
});

describe("models", () => {
  it("lists a batch's models most numerous first, and says when hashes were not read", () => {
    expect(
      describeModels([
        { manufacturer: "Contoso", model: "Surface Laptop 7", count: 479 },
        { manufacturer: "Fabrikam", model: "FB-14", count: 1 },
      ]),
    ).toBe("Contoso Surface Laptop 7 × 479 · Fabrikam FB-14 × 1");
    expect(describeModels([{ count: 3 }, { count: 7, otherModels: 12 }])).toBe("not read × 3 · 12 other models × 7");
    expect(describeModels(undefined)).toBe("—");
    expect(deviceModel({ manufacturer: "Contoso", model: "X" })).toBe("Contoso X");
    expect(deviceModel({})).toBe("—");
  });
});

describe("erasing a batch", () => {
  it("is offered for a finished batch only", () => {
    expect(canErase({ status: "running" })).toBe(false);
    for (const status of ["succeeded", "partially_succeeded", "failed", "canceled"]) expect(canErase({ status })).toBe(true);
    expect(canErase(undefined)).toBe(false);
  });
  it("says how long the batch is kept", () => {
    expect(retentionOf({ status: "succeeded", expiresAt: "2027-01-01T00:00:00.000Z" })).toEqual({ until: "2027-01-01T00:00:00.000Z" });
    expect(retentionOf({ status: "running" })).toEqual({ text: "While it runs, then for the retention period" });
  });
  it("tells the outcome of the DELETE in plain words", () => {
    expect(eraseOutcome(204)).toMatchObject({ kind: "done", message: expect.stringContaining("erased") });
    expect(eraseOutcome(404).message).toContain("erased already");
    expect(eraseOutcome(409, "The batch is still running; cancel it first.").message).toBe("The batch is still running; cancel it first.");
    expect(eraseOutcome("network")).toMatchObject({ kind: "unreachable", message: expect.stringContaining("not erased") });
    expect(eraseOutcome(503).kind).toBe("server");
  });
});

describe("deregistration batches", () => {
  it("count deregistered and not found devices as final, in the order a device moves", () => {
    const batch = { deviceCount: 4, counts: { queued: 0, deregistering: 1, deregistered: 2, not_found: 1, failed: 0 } };
    expect(progressOf(batch)).toEqual({ final: 3, total: 4, percent: 75 });
    expect(countsInOrder(batch.counts, { nonZeroOnly: true }).map((c) => c.state)).toEqual(["deregistering", "deregistered", "not_found"]);
  });

  it("list the devices a person must look at, failed or not found, with what it means", () => {
    expect(
      deregistrationProblems([
        { serialNumber: "A", state: "deregistered" },
        { serialNumber: "B", state: "not_found", error: { code: "NotFound" } },
        { serialNumber: "C", state: "failed", error: { code: "BadRequest", message: "still enrolled" } },
        { serialNumber: "D", state: "deregistering" },
      ]),
    ).toEqual([
      { serialNumber: "B", state: "not found", code: "NotFound", message: "The tenant has no Autopilot device with this serial number." },
      { serialNumber: "C", state: "failed", code: "BadRequest", message: "still enrolled" },
    ]);
  });
});
