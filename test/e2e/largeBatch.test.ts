import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { functionDefinitions } from "../../src/app/functionDefinitions.js";
import { startPipeline, type Pipeline } from "../support/pipeline.js";
import { makeCsv, makeDevices } from "../support/devices.js";

/**
 * The largest batch the default limits allow, accepted in one request. How long it takes is
 * measured by `npm run bench`, not asserted here; this proves it is recorded and enqueued whole.
 */
let pipeline: Pipeline;

beforeAll(async () => {
  pipeline = await startPipeline({ definitions: functionDefinitions.filter((d) => d.kind === "http") });
});
afterAll(async () => pipeline?.stop());

describe("a 10,000-device batch", () => {
  it("is accepted with one queue message and one row per device, and one poll message", async () => {
    const devices = makeDevices(10_000, "BIG");
    const response = await fetch(`${pipeline.api}/imports`, { method: "POST", headers: { ...pipeline.headers, "content-type": "text/csv" }, body: makeCsv(devices) });
    expect(response.status).toBe(202);
    const { id, deviceCount } = (await response.json()) as { id: string; deviceCount: number };
    expect(deviceCount).toBe(10_000);
    // one per device, and the batch's first poll round
    expect((await pipeline.services.storage.deviceQueue.getProperties()).approximateMessagesCount).toBe(10_001);
    const summary = (await (await fetch(`${pipeline.api}/imports/${id}`, { headers: pipeline.headers })).json()) as { counts: { queued: number } };
    expect(summary.counts.queued).toBe(10_000);
    const journal = pipeline.services.storage.intakeJournal.listEntities();
    expect((await journal.next()).done).toBe(true);
  }, 180_000);
});
