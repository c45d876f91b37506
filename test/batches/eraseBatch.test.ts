import { describe, expect, it } from "vitest";
import { ERASED_ROWS_PER_RUN, ERASURES_PER_RUN, eraseDueBatches, type ErasureDeps } from "../../src/batches/eraseBatch.js";
import { silentLogger } from "../../src/telemetry/logging.js";
import type { IndexEntry } from "../../src/storage/batchIndex.js";

/**
 * The expiry timer's bounds, on stand-ins that record what it did: it takes at most
 * ERASURES_PER_RUN batches from the index and stops once it has deleted ERASED_ROWS_PER_RUN rows,
 * and it leaves a batch whose list row says expired but whose header says it runs again.
 */
const NOW = new Date("2027-01-31T00:00:00.000Z");

function world(
  due: (IndexEntry & { erasingAt?: string; expiresAt?: string })[],
  rowsPerBatch: number,
  headers: Record<string, { expiresAt?: string; erasingAt?: string }> = {},
) {
  const erased: string[] = [];
  const corrected: [string, string | undefined][] = [];
  let asked = 0;
  const deps: ErasureDeps = {
    store: {
      markErasing: async () => {},
      erasePartition: async (batchId) => (erased.push(batchId), rowsPerBatch),
      readBatch: async (batchId) => (headers[batchId] ? ({ partitionKey: batchId, ...headers[batchId] } as never) : undefined),
      readSummary: async () => undefined,
    },
    index: {
      markErasing: async () => {},
      remove: async () => {},
      setExpiry: async (entry, expiresAt) => void corrected.push([entry.batchId, expiresAt]),
      dueForErasure: async (_now, take) => ((asked = take), due.slice(0, take)),
    },
    idempotency: { deleteForBatch: async () => 0 },
    journal: { finish: async () => {} },
    log: silentLogger,
    now: () => NOW,
  };
  return { deps, erased, corrected, asked: () => asked };
}

const entries = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    partnerId: "p",
    batchId: `b-${i}`,
    createdAt: "2027-01-01T00:00:00.000Z",
    expiresAt: "2027-01-30T00:00:00.000Z",
  }));

describe("eraseDueBatches", () => {
  it("takes at most ERASURES_PER_RUN batches a run; the next run takes the rest", async () => {
    const w = world(entries(ERASURES_PER_RUN + 20), 5);
    expect(await eraseDueBatches(w.deps)).toBe(ERASURES_PER_RUN);
    expect(w.asked()).toBe(ERASURES_PER_RUN);
    expect(w.erased).toHaveLength(ERASURES_PER_RUN);
  });

  it("stops starting batches once a run has deleted ERASED_ROWS_PER_RUN rows, finishing the one it started", async () => {
    // A full batch: 10,000 devices, 16 counter shards and its header.
    const w = world(entries(10), 10_017);
    expect(await eraseDueBatches(w.deps)).toBe(Math.ceil(ERASED_ROWS_PER_RUN / 10_017));
  });

  it("leaves a batch that runs again since its list row said expired, and corrects the row; finishes one being erased", async () => {
    const due = [
      ...entries(2),
      { partnerId: "p", batchId: "b-erasing", createdAt: "2027-01-01T00:00:00.000Z", erasingAt: "2027-01-30T00:00:00.000Z" },
    ];
    const w = world(due, 3, {
      "b-0": { expiresAt: "" },
      "b-1": { expiresAt: "2027-01-30T00:00:00.000Z" },
      "b-erasing": { erasingAt: "2027-01-30T00:00:00.000Z" },
    });
    expect(await eraseDueBatches(w.deps)).toBe(2);
    expect(w.erased).toEqual(["b-1", "b-erasing"]);
    expect(w.corrected).toEqual([["b-0", undefined]]);
  });
});
