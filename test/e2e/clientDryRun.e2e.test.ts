import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiError, createAutopilotImportClient, type AutopilotImportClient } from "../../clients/typescript/src/index.js";
import { makeDevices } from "../support/devices.js";
import { startPipeline, TENANT_A, type Pipeline } from "../support/pipeline.js";

/** The typed client's dry run against the development host: the checks answer, nothing is recorded. */
let pipeline: Pipeline;
let client: AutopilotImportClient;

beforeAll(async () => {
  pipeline = await startPipeline();
  client = createAutopilotImportClient({ baseUrl: new URL(pipeline.api).origin, apiKey: pipeline.partner.apiKey });
});
afterAll(async () => pipeline?.stop());

describe("checkImport", () => {
  it("answers what the hashes tell and records no batch", async () => {
    const devices = makeDevices(3, "DRYCLIENT");
    const result = await client.checkImport({ tenantId: TENANT_A, devices });
    expect(result.dryRun).toBe(true);
    expect(result.deviceCount).toBe(3);
    expect(result.deviceModels.reduce((sum, model) => sum + model.count, 0)).toBe(3);
    const recorded: string[] = [];
    for await (const batch of client.batches()) recorded.push(batch.id);
    expect(recorded).toEqual([]);
  });

  it("throws the API's problem for a hash that names another serial number", async () => {
    const [first, second] = makeDevices(2, "DRYCLASH");
    const error = await client
      .checkImport({ tenantId: TENANT_A, devices: [{ ...first!, serialNumber: second!.serialNumber }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(400);
    expect(JSON.stringify((error as ApiError).problem)).toContain("serial-contradicts-hash");
  });
});
