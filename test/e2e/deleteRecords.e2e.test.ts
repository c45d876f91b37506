import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimulatorCredential } from "../../src/graph/devCredential.js";
import { GraphClient } from "../../src/graph/graphClient.js";
import { startPipeline, TENANT_A, waitForBatch, type Pipeline } from "../support/pipeline.js";
import { makeCsv, makeDevices, hashFor } from "../support/devices.js";

/** DELETE_IMPORTED_RECORDS: once final, the pipeline's own imported records go, and nobody else's. */
let pipeline: Pipeline;

beforeAll(async () => {
  pipeline = await startPipeline({ simulator: { settleDelayMs: 200 }, env: { DELETE_IMPORTED_RECORDS: "true" } });
});
afterAll(async () => pipeline?.stop());

describe("deleting imported records", () => {
  it("deletes every record this pipeline created once its import is final, keeps the outcome, and leaves other tools' records", async () => {
    // Another tool (another app) imported a device into the same tenant.
    const otherTool = new GraphClient({
      baseUrl: pipeline.simulator.url,
      apiVersion: "v1.0",
      credential: new SimulatorCredential({ tenantId: TENANT_A, appId: "0ther-app" }),
      timeoutMs: 10_000,
    });
    const foreign = await otherTool.createImportedDevice(TENANT_A, {
      serialNumber: "NOT-OURS-1",
      hardwareIdentifier: hashFor("NOT-OURS-1", 4242),
    });
    expect(foreign.kind).toBe("ok");

    const devices = makeDevices(30, "DEL");
    pipeline.simulator.rejectHash(devices[3]!.hardwareIdentifier);
    // One delete is throttled: it must be rescheduled, not lost.
    pipeline.simulator.injectFaults({ kind: "status", status: 429, retryAfterSeconds: 1, times: 1, match: { method: "DELETE" } });
    const response = await fetch(`${pipeline.api}/imports?tenantId=${TENANT_A}`, {
      method: "POST",
      headers: { ...pipeline.headers, "content-type": "text/csv" },
      body: makeCsv(devices),
    });
    const { id } = (await response.json()) as { id: string };
    const final = await waitForBatch(pipeline, id);
    expect(final.counts).toMatchObject({ imported: 29, failed: 1 });

    // Deletion follows the batch's end; wait for Graph to hold only the other tool's record.
    const deadline = Date.now() + 30_000;
    while (pipeline.simulator.records(TENANT_A).length > 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(pipeline.simulator.records(TENANT_A).map((r) => r.serialNumber)).toEqual(["NOT-OURS-1"]);
    expect(pipeline.simulator.requestLog.filter((r) => r.method === "DELETE" && r.status === 429)).toHaveLength(1);
    // The outcomes stay readable.
    const failed = (await (await fetch(`${pipeline.api}/imports/${id}/devices?status=failed`, { headers: pipeline.headers })).json()) as {
      value: { error: { code: string } }[];
    };
    expect(failed.value.map((d) => d.error.code)).toEqual(["802"]);
  });
});
