import type { AccessToken, TokenCredential } from "@azure/core-auth";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { GraphClient } from "../../src/graph/graphClient.js";
import { allDevices, startPipeline, TENANT_A, TENANT_B, waitForBatch, type Pipeline } from "../support/pipeline.js";
import { makeDevices, type CsvDevice } from "../support/devices.js";

/**
 * The pipeline against Graph as real tenants have been seen to behave (the simulator's default,
 * autopilot-graph-facts.md): answers that carry the record's own id as importId and productKey
 * and an empty hash, imports that pass through `pending`, lists that lag creates, Intune's 403
 * `Forbidden`, messages wrapped in JSON, 429s without Retry-After, sync only on beta. Each test
 * fails if the pipeline leaned on what the docs' example shows instead.
 */
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
let pipeline: Pipeline;

beforeAll(async () => {
  pipeline = await startPipeline({
    // Lists lag creates by longer than a poll round takes to come: a pipeline that took a record
    // missing from a list for deleted would fail devices that Graph holds.
    simulator: { settleDelayMs: 3_000, listLagMs: 1_500 },
    env: { GRAPH_LIST_GRACE_MS: "6000", SYNC_AFTER_IMPORT: "true", SYNC_DEBOUNCE_MS: "100", GRAPH_API_VERSION: "v1.0" },
  });
});
afterAll(async () => pipeline?.stop());
beforeEach(() => pipeline.simulator.clearFaults());

async function post(devices: CsvDevice[], tenantId = TENANT_A): Promise<string> {
  const response = await fetch(`${pipeline.api}/imports`, {
    method: "POST",
    headers: { ...pipeline.headers, "content-type": "application/json" },
    body: JSON.stringify({ tenantId, devices }),
  });
  expect(response.status).toBe(202);
  return ((await response.json()) as { id: string }).id;
}

const createsOf = (prefix: string) => pipeline.simulator.creates.filter((c) => c.serialNumber.startsWith(prefix));

describe("Intune as observed", () => {
  it.each([
    ["one GET each", 4, "OBS-FEW"],
    ["listing the tenant's records", 15, "OBS-MANY"],
  ])("imports every device, followed by %s, though Graph echoes none of the client's values", async (_how, count, prefix) => {
    const devices = makeDevices(count, prefix);
    const id = await post(devices);
    // What this Graph answers: the record's own id where our importId was sent, and no hash.
    const seen = await (async () => {
      for (;;) {
        const first = createsOf(prefix)[0];
        if (first) return first;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    const answered = await pipeline.services.graph.getImportedDevice(TENANT_A, seen.id);
    expect(answered).toMatchObject({ kind: "ok", body: { importId: seen.id, productKey: seen.id, hardwareIdentifier: "" } });
    expect(seen.importId).toMatch(new RegExp(`^${id}/device-\\d{6}$`));

    const final = await waitForBatch(pipeline, id, 60_000);
    expect(final.counts).toMatchObject({ imported: count, failed: 0 });
    const outcomes = await allDevices(pipeline, id);
    const created = new Map(createsOf(prefix).map((c) => [c.serialNumber, c.id]));
    expect(created.size).toBe(count);
    expect(createsOf(prefix)).toHaveLength(count);
    for (const o of outcomes) {
      expect(o.graphId, o.serialNumber).toBe(created.get(o.serialNumber));
      expect(o.recordMatch).toBeUndefined();
      const call = o.graphRequest as { requestId?: string; clientRequestId: string };
      expect(call.clientRequestId).toMatch(GUID);
      expect(call.requestId).toMatch(GUID);
    }
  });

  it("shows a device Graph accepted as submitted while Intune says pending, and imported once complete", async () => {
    const id = await post(makeDevices(3, "OBS-PENDING"));
    const deadline = Date.now() + 30_000;
    let pending = false;
    while (!pending && Date.now() < deadline) {
      const devices = await allDevices(pipeline, id);
      pending = devices.some((d) => d.state === "submitted" && d.importStatus === "pending");
      if (!pending) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(pending).toBe(true);
    expect((await waitForBatch(pipeline, id, 30_000)).counts).toMatchObject({ imported: 3 });
  });

  it("fails the whole batch at once when Intune answers 403 Forbidden, with Intune's own words and what the app needs", async () => {
    pipeline.simulator.injectFaults({
      kind: "status",
      status: 403,
      match: { method: "POST", pathIncludes: "importedWindowsAutopilotDeviceIdentities" },
    });
    const id = await post(makeDevices(60, "OBS-403"));
    const final = await waitForBatch(pipeline, id, 30_000);
    expect(final.status).toBe("failed");
    expect(final.counts).toMatchObject({ failed: 60 });
    // The first refusals fail the rest: far fewer calls than devices (those already in flight at
    // the first 403 make theirs; this test's pacing lets many through at once).
    expect(pipeline.simulator.requestLog.filter((r) => r.status === 403).length).toBeLessThan(30);
    for (const device of await allDevices(pipeline, id)) {
      expect(device.error?.code).toBe("Forbidden");
      expect(device.error?.message).toContain("DeviceManagementServiceConfig.ReadWrite.All");
      expect(device.error?.message).not.toContain("_version");
    }
  });

  it("reads Intune's inner Message out of the JSON it wraps errors in", async () => {
    const [device] = makeDevices(1, "OBS-WRAPPED");
    pipeline.simulator.injectFaults({ kind: "status", status: 400, times: 1, match: { serialNumber: device!.serialNumber } });
    const id = await post([device!]);
    await waitForBatch(pipeline, id, 30_000);
    const [outcome] = await allDevices(pipeline, id);
    expect(outcome!.error).toMatchObject({ code: "BadRequest" });
    expect(outcome!.error?.message).toMatch(/^Injected fault/);
    expect(outcome!.error?.message).not.toMatch(/_version|Operation ID|\{/);
  });

  it("retries a 429 that came without Retry-After", async () => {
    const [device] = makeDevices(1, "OBS-NORETRYAFTER");
    pipeline.simulator.injectFaults({ kind: "status", status: 429, times: 1, match: { serialNumber: device!.serialNumber } });
    const id = await post([device!]);
    expect((await waitForBatch(pipeline, id, 30_000)).counts).toMatchObject({ imported: 1 });
    const [outcome] = await allDevices(pipeline, id);
    expect(outcome!.attempts).toBe(2);
  });

  it("asks for the Autopilot sync on beta though the rest of the calls use v1.0", async () => {
    const id = await post(makeDevices(1, "OBS-SYNC"), TENANT_B);
    await waitForBatch(pipeline, id, 30_000);
    const deadline = Date.now() + 20_000;
    while (!pipeline.simulator.requestLog.some((r) => r.path.includes("windowsAutopilotSettings/sync")) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const syncs = pipeline.simulator.requestLog.filter((r) => r.path.includes("windowsAutopilotSettings/sync"));
    expect(syncs.map((r) => [r.path, r.status])).toContainEqual(["/beta/deviceManagement/windowsAutopilotSettings/sync", 204]);
    expect(syncs.filter((r) => r.path.startsWith("/v1.0/"))).toHaveLength(0);
    expect(pipeline.simulator.requestLog.filter((r) => r.path.startsWith("/v1.0/deviceManagement/importedWindows")).length).toBeGreaterThan(
      0,
    );
  });

  it("fails the batch at once, with the admin-consent link, when Entra ID says the tenant has not consented", async () => {
    const refusing: TokenCredential = {
      async getToken(): Promise<AccessToken> {
        throw new Error("AADSTS65001: The user or administrator has not consented to use the application with ID 'app'.\nTrace ID: 1");
      },
    };
    const original = pipeline.services.graph;
    pipeline.services.graph = new GraphClient({
      baseUrl: pipeline.simulator.url,
      apiVersion: "v1.0",
      credential: refusing,
      timeoutMs: 5_000,
      appId: "00000000-0000-0000-0000-00000000a11e",
    });
    try {
      const id = await post(makeDevices(25, "OBS-CONSENT"));
      const final = await waitForBatch(pipeline, id, 30_000);
      expect(final.counts).toMatchObject({ failed: 25 });
      for (const device of await allDevices(pipeline, id)) {
        expect(device.error?.code).toBe("TenantConsentRequired");
        expect(device.error?.message).toContain(
          `https://login.microsoftonline.com/${TENANT_A}/adminconsent?client_id=00000000-0000-0000-0000-00000000a11e`,
        );
      }
      expect(createsOf("OBS-CONSENT")).toHaveLength(0);
    } finally {
      pipeline.services.graph = original;
    }
  });
});
