import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allDevices, startPipeline, TENANT_A, TENANT_B, waitForBatch, type Pipeline } from "../support/pipeline.js";
import { makeCsv, makeDevices } from "../support/devices.js";

/**
 * Pacing through the whole pipeline: the simulator enforces Intune's write budget on a 4-second
 * window, and the pipeline is told the same budget. A big batch for tenant A is spread over its
 * budget without a storm of 429s, and tenant B's small batch is not stuck behind it.
 */
let pipeline: Pipeline;
// Intune's 100 writes per 20 s, five times faster: one development host keeps up with it.
const WINDOW_MS = 4_000;

beforeAll(async () => {
  pipeline = await startPipeline({
    simulator: { settleDelayMs: 200, throttle: { windowMs: WINDOW_MS, perAppPerTenant: 100, perTenant: 200 } },
    // Chunks of 2: A's 250 devices are 125 import actions, more than a window's budget, so A is
    // paced over several windows as a big order of 100-device chunks is on a real tenant.
    env: { PACING_WINDOW_MS: String(WINDOW_MS), PACING_WRITES_PER_WINDOW: "100", IMPORT_CHUNK_SIZE: "2" },
  });
});
afterAll(async () => pipeline?.stop());

const post = (tenantId: string, devices: ReturnType<typeof makeDevices>) =>
  fetch(`${pipeline.api}/imports?tenantId=${tenantId}`, {
    method: "POST",
    headers: { ...pipeline.headers, "content-type": "text/csv" },
    body: makeCsv(devices),
  }).then(async (r) => ((await r.json()) as { id: string }).id);

describe("pacing across tenants", () => {
  it("finishes tenant B's small batch while tenant A's big one is still paced, and keeps A inside its budget", async () => {
    const a = await post(TENANT_A, makeDevices(250, "PACE-A"));
    const b = await post(TENANT_B, makeDevices(10, "PACE-B"));

    const bDone = await waitForBatch(pipeline, b, 60_000);
    const aWhenBDone = (await (await fetch(`${pipeline.api}/imports/${a}`, { headers: pipeline.headers })).json()) as {
      status: string;
      counts: Record<string, number>;
    };
    expect(bDone.status).toBe("succeeded");
    // A is far from done: its 125 import actions need more than 4 s of budget.
    expect(aWhenBDone.status).toBe("running");
    expect(aWhenBDone.counts.imported!).toBeLessThan(250);

    const aDone = await waitForBatch(pipeline, a, 120_000);
    expect(aDone.status).toBe("succeeded");
    expect((await allDevices(pipeline, a)).every((d) => d.state === "imported")).toBe(true);

    expect(pipeline.simulator.creates.filter((c) => c.tenantId === TENANT_A)).toHaveLength(250);
    // Paced, not hammering: few of A's writes met a 429. (A client that ignores the budget has
    // most of its writes refused here; the share at real scale is in the benchmark.)
    const writes = pipeline.simulator.requestLog.filter((r) => r.tenantId === TENANT_A && r.method === "POST");
    expect(writes.filter((r) => r.status === 429).length / writes.length).toBeLessThanOrEqual(0.05);
  });
});
