import { describe, expect, it } from "vitest";
import type { GraphClient, GraphResult } from "../../src/graph/graphClient.js";
import type { DeviceMessage, DeviceMessageOf } from "../../src/storage/deviceMessage.js";
import type { Reservation } from "../../src/model/pacing.js";
import { deleteRecords, type DeleteDeps } from "../../src/worker/deleteRecords.js";

/**
 * A delete that Graph refuses for a while: a 429, or a 503 that says how long (Retry-After),
 * pauses the whole tenant (its other writes would meet the same answer); a bare 503 only backs
 * this message off. Either way the records not yet deleted go back to the schedule.
 */
const NOW = 1_000_000;

function world(answer: GraphResult<unknown>) {
  const calls: string[] = [];
  const sent: { message: DeviceMessage; delayMs?: number }[] = [];
  const reservation = (count: number, firstSlotAt: number): Reservation => ({
    firstSlotAt,
    intervalMs: 200,
    shiftMs: 0,
    next: { nextSlotAt: firstSlotAt + count * 200, intervalMs: 200, throttledAt: 0, pausedUntil: 0, shiftMs: 0 },
  });
  const deps: DeleteDeps = {
    now: () => NOW,
    log: { info() {}, warn() {}, error() {} } as unknown as DeleteDeps["log"],
    queue: {
      async send(message: DeviceMessage, delayMs?: number) {
        sent.push({ message, ...(delayMs !== undefined ? { delayMs } : {}) });
      },
    } as DeleteDeps["queue"],
    pacing: {
      async reserve(_tenant: string, count: number, _now: number, notBefore?: number) {
        calls.push(`reserve ${count} not before +${(notBefore ?? NOW) - NOW} ms`);
        return reservation(count, notBefore ?? NOW);
      },
      async throttledThenReserve(_tenant: string, retryAfterMs: number, _now: number, count = 1) {
        calls.push(`pause ${retryAfterMs} ms, reserve ${count}`);
        return reservation(count, NOW + retryAfterMs);
      },
    } as unknown as DeleteDeps["pacing"],
    graph: {
      async deleteImportedDevice(_tenant: string, id: string) {
        calls.push(`DELETE ${id}`);
        return id === "b" ? answer : { kind: "ok", status: 204, body: undefined };
      },
    } as unknown as GraphClient,
  };
  const message: DeviceMessageOf<"deleteRecords"> = {
    v: 1,
    kind: "deleteRecords",
    batchId: "batch-1",
    rowKey: "batch",
    attempt: 1,
    tenantId: "tenant-1",
    graphIds: ["a", "b", "c"],
    slotAt: NOW - 1_000,
    shiftAt: 0,
    intervalMs: 0,
  };
  return { deps, message, calls, sent };
}

describe("deleting imported records when Graph refuses for a while", () => {
  it("a 503 with Retry-After pauses the tenant for it and sends the rest again after the pause", async () => {
    const { deps, message, calls, sent } = world({ kind: "http-error", status: 503, retryAfterMs: 30_000 });
    expect(await deleteRecords(deps, message)).toEqual({ deleted: 1, rescheduled: 2 });
    expect(calls).toEqual(["DELETE a", "DELETE b", "pause 30000 ms, reserve 2"]);
    expect(sent.map(({ message: m }) => m.kind === "deleteRecords" && [m.graphIds, m.attempt])).toEqual([[["b", "c"], 2]]);
    // Its slot is after the pause (the message is made visible a moment before it, and waits out the rest).
    const rest = sent[0]!.message as DeviceMessageOf<"deleteRecords">;
    expect(rest.slotAt).toBe(NOW + 30_000);
    expect(sent[0]!.delayMs).toBeGreaterThan(25_000);
  });

  it("a 429 does the same", async () => {
    const { deps, message, calls } = world({ kind: "http-error", status: 429, retryAfterMs: 10_000 });
    expect(await deleteRecords(deps, message)).toEqual({ deleted: 1, rescheduled: 2 });
    expect(calls.at(-1)).toBe("pause 10000 ms, reserve 2");
  });

  it("a 503 without Retry-After backs this message off and leaves the tenant's schedule unpaused", async () => {
    const { deps, message, calls, sent } = world({ kind: "http-error", status: 503 });
    expect(await deleteRecords(deps, message)).toEqual({ deleted: 1, rescheduled: 2 });
    expect(calls.at(-1)).toMatch(/^reserve 2 not before \+\d+ ms$/);
    expect(calls.some((c) => c.startsWith("pause"))).toBe(false);
    expect(sent).toHaveLength(1);
  });
});
