import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allDevices, startPipeline, TENANT_A, TENANT_B, waitForBatch, type Pipeline } from "../support/pipeline.js";
import { makeCsv, makeDevices } from "../support/devices.js";

/**
 * Pacing through the whole pipeline: the simulator enforces Intune's write budget on a 2-second
 * window, and the pipeline is told the same budget. A big batch for tenant A is spread over its
 * budget without a storm of 429s, and tenant B's small batch is not stuck behind it.
 */
let pipeline: Pipeline;
const WINDOW_MS = 2_000;

beforeAll(async () => {
  pipeline = await startPipeline({
    simulator: { settleDelayMs: 200, throttle: { windowMs: WINDOW_MS, perAppPerTenant: 100, perTenant: 200 } },
    env: { PACING_WINDOW_MS: String(WINDOW_MS), PACING_WRITES_PER_WINDOW: "100" },
  });
});
afterAll(async () => pipeline?.stop());

const post = (tenantId: string, devices: ReturnType<typeof makeDevices>) =>
  fetch(`${pipeline.api}/imports?tenantId=${tenantId}`, { method: "POST", headers: { "content-type": "text/csv" }, body: makeCsv(devices) }).then(
    async (r) => ((await r.json()) as { id: string }).id,
  );

describe("pacing across tenants", () => {
  it("finishes tenant B's small batch while tenant A's big one is still paced, and keeps A inside its budget", async () => {
    const a = await post(TENANT_A, makeDevices(400, "PACE-A"));
    const b = await post(TENANT_B, makeDevices(10, "PACE-B"));

    const bDone = await waitForBatch(pipeline.api, b, 60_000);
    const aWhenBDone = (await (await fetch(`${pipeline.api}/imports/${a}`)).json()) as { status: string; counts: Record<string, number> };
    expect(bDone.status).toBe("succeeded");
    // A is far from done: its 400 creates need at least 8 s of budget.
    expect(aWhenBDone.status).toBe("running");
    expect(aWhenBDone.counts.imported!).toBeLessThan(400);

    const aDone = await waitForBatch(pipeline.api, a, 120_000);
    expect(aDone.status).toBe("succeeded");
    expect((await allDevices(pipeline.api, a)).every((d) => d.state === "imported")).toBe(true);

    // Within budget: no window of the simulator's saw more than 100 creates for A ...
    const creates = pipeline.simulator.creates.filter((c) => c.tenantId === TENANT_A).map((c) => c.at).sort((x, y) => x - y);
    expect(creates).toHaveLength(400);
    for (let i = 100; i < creates.length; i++) expect(creates[i]! - creates[i - 100]!).toBeGreaterThanOrEqual(WINDOW_MS - 50);
    // ... and almost none of A's writes met a 429.
    const writes = pipeline.simulator.requestLog.filter((r) => r.tenantId === TENANT_A && r.method === "POST");
    expect(writes.filter((r) => r.status === 429).length / writes.length).toBeLessThanOrEqual(0.03);
  });
});
