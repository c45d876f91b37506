import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeDevices, hashFor } from "../support/devices.js";
import { allDevices, startPipeline, TENANT_A, waitForBatch, type Pipeline } from "../support/pipeline.js";

/**
 * A 150-device order, start to finish, against Graph as real tenants behave (no echo of the
 * client's values, pending imports, lagging lists, repeated links, some 429s without
 * Retry-After), with the optional clean-up and sync on: every device is created once, only our
 * records are deleted, the sync goes to beta, and every call can be traced.
 */
let pipeline: Pipeline;

beforeAll(async () => {
  pipeline = await startPipeline({
    // Intune's budget on a 2-second window, so 150 creates and 150 deletes take seconds, and a
    // pacing that believed in a bigger budget would meet 429s.
    simulator: { settleDelayMs: 1_500, listLagMs: 500, throttle: { windowMs: 2_000, perAppPerTenant: 100, perTenant: 200 } },
    env: {
      PACING_WINDOW_MS: "2000",
      PACING_WRITES_PER_WINDOW: "100",
      GRAPH_LIST_GRACE_MS: "3000",
      DELETE_IMPORTED_RECORDS: "true",
      SYNC_AFTER_IMPORT: "true",
      SYNC_DEBOUNCE_MS: "100",
    },
  });
});
afterAll(async () => pipeline?.stop());

async function until(what: string, done: () => boolean, deadlineMs = 30_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`still waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("a 150-device order against Intune as observed", () => {
  it("imports each device once, fails the two already registered, deletes only its own records, syncs on beta, and traces every call", async () => {
    const devices = makeDevices(150, "ORDER150");
    for (const d of devices.slice(0, 2)) pipeline.simulator.registerDevice(TENANT_A, { serialNumber: d.serialNumber });
    // Another tool's record in the same tenant: never ours to delete.
    const foreign = await pipeline.services.graph.createImportedDevice(TENANT_A, {
      serialNumber: "OTHER-TOOL-1",
      hardwareIdentifier: hashFor("OTHER-TOOL-1", 424_242),
    });
    expect(foreign.kind).toBe("ok");
    const foreignId = foreign.kind === "ok" ? foreign.body.id : "";

    const response = await fetch(`${pipeline.api}/imports`, {
      method: "POST",
      headers: { ...pipeline.headers, "content-type": "application/json" },
      body: JSON.stringify({ tenantId: TENANT_A, devices }),
    });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };
    const final = await waitForBatch(pipeline, id, 120_000);
    expect(final.counts).toMatchObject({ imported: 148, failed: 2 });
    const outcomes = await allDevices(pipeline, id);
    for (const o of outcomes.slice(0, 2)) expect(o.error?.code).toBe("806");

    const creates = pipeline.simulator.creates.filter((c) => c.serialNumber.startsWith("ORDER150-"));
    expect(creates).toHaveLength(150);
    expect(new Set(creates.map((c) => c.serialNumber)).size).toBe(150);

    const ours = new Set(creates.map((c) => c.id));
    await until("our records deleted", () => !pipeline.simulator.records(TENANT_A).some((r) => ours.has(r.id)));
    expect(pipeline.simulator.records(TENANT_A).map((r) => r.id)).toContain(foreignId);
    const deletes = pipeline.simulator.requestLog.filter((r) => r.method === "DELETE");
    expect(deletes.some((r) => r.path.includes(foreignId))).toBe(false);

    await until("the sync", () => pipeline.simulator.requestLog.some((r) => r.path.endsWith("/windowsAutopilotSettings/sync")));
    const syncs = pipeline.simulator.requestLog.filter((r) => r.path.endsWith("/windowsAutopilotSettings/sync"));
    expect(syncs.every((r) => r.path.startsWith("/beta/"))).toBe(true);
    expect(syncs.map((r) => r.status)).toContain(204);

    const calls = pipeline.simulator.requestLog.filter((r) => r.tenantId === TENANT_A);
    // Two import actions (chunks of 100 and 50), 148 deletes, the poll rounds' reads and the sync.
    expect(calls.filter((r) => r.method === "POST" && r.path.endsWith("/import"))).toHaveLength(2);
    expect(calls.length).toBeGreaterThan(150);
    expect(calls.filter((r) => !r.clientRequestId)).toEqual([]);
    expect(new Set(calls.map((r) => r.clientRequestId)).size).toBe(calls.length);
  });
});
