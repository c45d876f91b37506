import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { functionDefinitions } from "../../src/app/functionDefinitions.js";
import { startPipeline, type Pipeline } from "../support/pipeline.js";
import { makeCsv, makeDevices } from "../support/devices.js";
import { queuedMessages } from "../support/queuedMessages.js";

/**
 * The largest batch the default limits allow, accepted in one request and exported as CSV. How
 * long it takes is measured by `npm run bench`, not asserted here; this proves it is recorded
 * and enqueued whole, and that its export streams.
 */
const COUNT = 10_000;
const devices = makeDevices(COUNT, "BIG");
let pipeline: Pipeline;
let accepted: Response;
let batch: { id: string; deviceCount: number };

beforeAll(async () => {
  pipeline = await startPipeline({ definitions: functionDefinitions.filter((d) => d.kind === "http") });
  accepted = await fetch(`${pipeline.api}/imports`, {
    method: "POST",
    headers: { ...pipeline.headers, "content-type": "text/csv" },
    body: makeCsv(devices),
  });
  batch = (await accepted.json()) as typeof batch;
}, 180_000);
afterAll(async () => pipeline?.stop());

describe("a 10,000-device batch", () => {
  it("is accepted in pages of devices, with one poll message and fan-out messages for every device", async () => {
    expect(accepted.status).toBe(202);
    expect(batch.deviceCount).toBe(COUNT);
    // the batch's first poll round, and fan-out messages standing for one message per device (queuedMessages.ts)
    expect(await queuedMessages(pipeline.services.storage)).toBe(COUNT + 1);
    const summary = (await (await fetch(`${pipeline.api}/imports/${batch.id}`, { headers: pipeline.headers })).json()) as {
      counts: { queued: number };
    };
    expect(summary.counts.queued).toBe(COUNT);
    // The worker is left out, so its fan-out (ten ranges) has not run: the journal keeps the batch until it has.
    expect((await pipeline.services.fanOutProgress.list(batch.id)).map((r) => [r.from, r.to, r.done])).toEqual(
      Array.from({ length: 10 }, (_, r) => [r * 1_000, (r + 1) * 1_000, false]),
    );
    const journal = pipeline.services.storage.intakeJournal.listEntities();
    expect((await journal.next()).value?.rowKey).toBe(batch.id);
    // 10,000 devices in 110 pages (ten ranges of 1,000, each 10 pages of 99 and one of 10), no device row yet.
    const pages = await pipeline.services.store.readPageKeys(batch.id, 0, COUNT);
    expect(pages).toHaveLength(110);
    expect(pages.reduce((n, p) => n + p.count, 0)).toBe(COUNT);
    expect(await pipeline.services.store.readDeviceRange(batch.id, "device-000000", COUNT)).toEqual([]);
  }, 180_000);

  it("is exported as CSV that streams: its first bytes reach the client while most rows are still unread", async () => {
    const store = pipeline.services.store;
    // The worker is left out, so every device is still in its page: the export reads pages and rows together, by device index.
    const listDevicesByIndex = store.listDevicesByIndex.bind(store);
    let rowsRead = 0;
    let releaseLaterPages!: () => void;
    const firstBytesArrived = new Promise<void>((resolve) => (releaseLaterPages = resolve));
    // Every page after the first waits until the client holds its first bytes. A host that
    // buffers the response whole would never send them, so this test would time out instead
    // of passing; one that streams sends the header and the first page at once.
    const spy = vi.spyOn(store, "listDevicesByIndex").mockImplementation(async (batchId, options) => {
      if (options.from > 0) await firstBytesArrived;
      const page = await listDevicesByIndex(batchId, options);
      rowsRead += page.devices.length;
      return page;
    });
    try {
      const response = await fetch(`${pipeline.api}/imports/${batch.id}/devices`, { headers: { ...pipeline.headers, accept: "text/csv" } });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toMatch(/^text\/csv/);
      const reader = response.body!.getReader();
      const first = await reader.read();
      const rowsReadAtFirstBytes = rowsRead;
      releaseLaterPages();
      const decoder = new TextDecoder();
      let csv = decoder.decode(first.value, { stream: true });
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) csv += decoder.decode(chunk.value, { stream: true });
      csv += decoder.decode();

      expect(first.done).toBe(false);
      expect(rowsReadAtFirstBytes).toBeGreaterThan(0);
      expect(rowsReadAtFirstBytes).toBeLessThan(COUNT);
      expect(rowsRead).toBe(COUNT);
      const lines = csv.trimEnd().split("\r\n");
      expect(lines).toHaveLength(COUNT + 1);
      const serials = new Set(lines.slice(1).map((line) => line.split(",")[1]));
      expect(serials).toEqual(new Set(devices.map((d) => d.serialNumber)));
    } finally {
      spy.mockRestore();
    }
    // Streaming, the export takes about a second; a buffering host fails here by timing out.
  }, 60_000);
});
