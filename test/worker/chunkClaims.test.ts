import { describe, expect, it } from "vitest";
import type { DeviceMessage } from "../../src/storage/deviceMessage.js";
import type { DeviceState } from "../../src/storage/importEntities.js";
import { ChunkClaims, type ChunkStateReader } from "../../src/worker/chunkClaims.js";

const BATCH = "b-1";
const follower = (rowKey: string, attempt = 1, first = "device-000000", size = 4): DeviceMessage => ({
  v: 1,
  kind: "submit",
  batchId: BATCH,
  rowKey,
  attempt,
  slotAt: 0,
  shiftAt: 0,
  chunk: { first, size },
});

/** A chunk of four rows whose states the test sets; counts the range reads. */
function chunkOf(states: [DeviceState, number][]) {
  const rows = states.map(([state, attempts], i) => ({ rowKey: `device-00000${i}`, state, attempts }));
  let reads = 0;
  let failNext = false;
  const reader: ChunkStateReader = {
    async readDeviceStates(batchId, first, size) {
      reads++;
      expect([batchId, first, size]).toEqual([BATCH, "device-000000", 4]);
      // An answer that takes a moment, so followers that come together overlap it.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (failNext) {
        failNext = false;
        throw new Error("storage down");
      }
      return rows.map((r) => ({ ...r }));
    },
  };
  return {
    rows,
    reader,
    reads: () => reads,
    failOnce: () => {
      failNext = true;
    },
  };
}

describe("ChunkClaims: one read of a chunk's states for all its followers on an instance", () => {
  it("reads the chunk once for followers that come together, and knows which of them are stale", async () => {
    const chunk = chunkOf([
      ["submitting", 1],
      ["submitted", 1],
      ["queued", 0],
      ["canceled", 0],
    ]);
    const claims = new ChunkClaims(chunk.reader);
    const verdicts = await Promise.all(
      ["device-000001", "device-000002", "device-000003"].map((rowKey) => claims.isStale(follower(rowKey))),
    );
    // Taken by the leader (attempt 1) and final: stale. Still queued: its own row must say.
    expect(verdicts).toEqual([true, false, true]);
    expect(chunk.reads()).toBe(1);
  });

  it("never calls a device stale that waits for this attempt, and tells attempts apart", async () => {
    const chunk = chunkOf([
      ["submitting", 1],
      ["retrying", 1],
      ["queued", 0],
      ["submitting", 2],
    ]);
    const claims = new ChunkClaims(chunk.reader);
    // Attempt 2's followers: the retrying device (attempts 1) waits for attempt 2.
    expect(await claims.isStale(follower("device-000001", 2))).toBe(false);
    expect(await claims.isStale(follower("device-000003", 2))).toBe(true);
    // Attempt 1's followers are a different entry: the retrying device is past attempt 1.
    expect(await claims.isStale(follower("device-000001", 1))).toBe(true);
    expect(chunk.reads()).toBe(2);
  });

  it("reads again after forget (what it read predates the leader's claim) and after its time to live", async () => {
    const chunk = chunkOf([
      ["queued", 0],
      ["queued", 0],
      ["queued", 0],
      ["queued", 0],
    ]);
    let clock = 0;
    const claims = new ChunkClaims(chunk.reader, () => clock, 1_000);
    expect(await claims.isStale(follower("device-000001"))).toBe(false);
    // The leader takes the chunk now; what the instance read says otherwise until forgotten.
    for (const row of chunk.rows) Object.assign(row, { state: "submitting", attempts: 1 });
    expect(await claims.isStale(follower("device-000002"))).toBe(false);
    claims.forget(follower("device-000002"));
    expect(await claims.isStale(follower("device-000002"))).toBe(true);
    expect(chunk.reads()).toBe(2);
    clock += 1_001;
    expect(await claims.isStale(follower("device-000003"))).toBe(true);
    expect(chunk.reads()).toBe(3);
  });

  it("does not remember a failed read, and forgets the oldest chunks beyond its size", async () => {
    const chunk = chunkOf([
      ["submitting", 1],
      ["submitting", 1],
      ["submitting", 1],
      ["submitting", 1],
    ]);
    const claims = new ChunkClaims(chunk.reader, Date.now, 60_000, 2);
    chunk.failOnce();
    await expect(claims.isStale(follower("device-000001"))).rejects.toThrow("storage down");
    expect(await claims.isStale(follower("device-000001"))).toBe(true);
    expect(chunk.reads()).toBe(2);
    // Same rows, other attempts: three entries for a cache of two.
    await claims.isStale(follower("device-000001", 2));
    await claims.isStale(follower("device-000001", 3));
    expect(claims.size).toBe(2);
  });

  it("knows nothing of a message without a chunk", async () => {
    const chunk = chunkOf([]);
    const claims = new ChunkClaims(chunk.reader);
    const { chunk: _chunk, ...single } = follower("device-000001");
    expect(await claims.isStale(single)).toBe(false);
    expect(chunk.reads()).toBe(0);
  });
});
