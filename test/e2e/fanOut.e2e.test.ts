import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { functionDefinitions } from "../../src/app/functionDefinitions.js";
import type { FunctionDefinition } from "../../src/app/functionTypes.js";
import { startDevHost, type DevHost } from "../../src/dev/host/devHost.js";
import { DEVICE_QUEUE, FANOUT_QUEUE, FOLLOWER_QUEUE } from "../../src/storage/names.js";
import { allDevices, startPipeline, waitForBatch, type Pipeline } from "../support/pipeline.js";
import { makeCsv, makeDevices } from "../support/devices.js";

/**
 * Issue 19: the 202 answers once the batch is durable; its device messages are sent afterwards by
 * the fan-out's queue trigger. The pipeline here runs every function but the fan-out, so what
 * intake left behind at its 202 can be looked at; then a second host runs the fan-out alone, and
 * every device ends final, imported exactly once.
 */
const isFanOut = (d: FunctionDefinition) => d.kind === "queue" && d.queueName === FANOUT_QUEUE;
let pipeline: Pipeline;
let fanOutHost: DevHost | undefined;

beforeAll(async () => {
  pipeline = await startPipeline({ definitions: functionDefinitions.filter((d) => !isFanOut(d)), env: { FANOUT_RANGE_DEVICES: "100" } });
});
afterAll(async () => {
  await fanOutHost?.stop();
  await pipeline?.stop();
});

const depth = async (name: string) => (await pipeline.services.storage.queueNamed(name).getProperties()).approximateMessagesCount ?? 0;

describe("the fan-out", () => {
  it("answers 202 before any device message is sent, then sends them all and every device is imported once", async () => {
    const count = 250;
    const devices = makeDevices(count, "FANOUT");
    const response = await fetch(`${pipeline.api}/imports`, {
      method: "POST",
      headers: { ...pipeline.headers, "content-type": "text/csv" },
      body: makeCsv(devices),
    });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };

    // At the 202: the batch's poll round and three fan-out messages (100 + 100 + 50 devices), no device message.
    expect(await depth(DEVICE_QUEUE)).toBe(1);
    expect(await depth(FOLLOWER_QUEUE)).toBe(0);
    expect(await depth(FANOUT_QUEUE)).toBe(3);
    expect((await pipeline.services.fanOutProgress.list(id)).map((r) => [r.from, r.to, r.next, r.done])).toEqual([
      [0, 100, 0, false],
      [100, 200, 100, false],
      [200, 250, 200, false],
    ]);
    // The batch shows as running with its devices queued, and its intake as not yet finished.
    const status = (await (await fetch(`${pipeline.api}/imports/${id}`, { headers: pipeline.headers })).json()) as {
      status: string;
      counts: Record<string, number>;
    };
    expect(status).toMatchObject({ status: "running", counts: { queued: count, imported: 0 } });
    expect((await pipeline.services.store.readBatch(id))?.intakeState).toBe("enqueueing");
    expect(pipeline.simulator.creates.filter((c) => c.importId?.startsWith(`${id}/`))).toEqual([]);

    // The fan-out runs (a host with the fan-out's trigger alone, on the same storage).
    fanOutHost = await startDevHost({ services: pipeline.services, definitions: functionDefinitions.filter(isFanOut), timers: false });
    const final = await waitForBatch(pipeline, id, 120_000).catch((error: Error) => {
      throw new Error(
        `${error.message}\n${pipeline.logs
          .filter((l) => l.level !== "info")
          .map((l) => `${l.level} ${l.message} ${JSON.stringify(l.fields)}`)
          .join("\n")}`,
      );
    });
    expect(final.status).toBe("succeeded");
    expect(final.counts).toMatchObject({ imported: count, failed: 0 });
    const rows = await allDevices(pipeline, id);
    expect(rows.every((r) => r.state === "imported")).toBe(true);
    const creates = pipeline.simulator.creates.filter((c) => c.importId?.startsWith(`${id}/`));
    expect(creates).toHaveLength(count);
    expect(new Set(creates.map((c) => c.serialNumber)).size).toBe(count);

    // Every range done; the last one marked the batch accepted and removed its journal entry.
    expect((await pipeline.services.fanOutProgress.list(id)).every((r) => r.done && r.next === r.to)).toBe(true);
    expect((await pipeline.services.store.readBatch(id))?.intakeState).toBe("accepted");
    expect(
      (await pipeline.services.journal.startedBefore(new Date(Date.now() + 60_000).toISOString())).map((p) => p.batchId),
    ).not.toContain(id);
    expect(await depth(FANOUT_QUEUE)).toBe(0);
  }, 180_000);
});
