import { describe, expect, it } from "vitest";
import { silentLogger } from "../../src/telemetry/logging.js";
import { type BatchEntity } from "../../src/storage/importEntities.js";
import type { BatchSummary } from "../../src/storage/importStore.js";
import type { DeliveryMessage } from "../../src/webhooks/deliveryMessage.js";
import type { NotificationRecord } from "../../src/webhooks/notificationRecord.js";
import type { BatchNotificationHeader } from "../../src/webhooks/notificationStore.js";
import { notifyIfFinal, type NotifyDeps } from "../../src/status/notifyBatch.js";
import { type StateCounts, emptyCounts } from "../../src/model/deviceState.js";

const ID = "6f1c1c9e-3c9f-4d5e-9b7a-0a1b2c3d4e5f";

function setup(callbackUrl: string | null = "https://hooks.example.com/x?secret=1") {
  let row: { etag: number; record: NotificationRecord } | undefined;
  let counts: StateCounts = { ...emptyCounts(), queued: 1, imported: 1 };
  let lastUpdatedAt = "2026-11-29T01:00:00.000Z";
  const sent: DeliveryMessage[] = [];
  const batch: BatchEntity = {
    partitionKey: ID,
    rowKey: "batch",
    partnerId: "p1",
    tenantId: "t",
    deviceCount: 2,
    source: "json",
    intakeState: "accepted",
    createdAt: "2026-11-29T00:59:00.000Z",
    ...(callbackUrl ? { callbackUrl } : {}),
  };
  const deps: NotifyDeps = {
    store: { readSummary: async (): Promise<BatchSummary> => ({ batch, counts: { ...counts }, lastUpdatedAt }) },
    notifications: {
      read: async (batchId): Promise<BatchNotificationHeader> => ({
        batchId,
        etag: row ? String(row.etag) : undefined,
        partnerId: "p1",
        ...(callbackUrl ? { callbackUrl } : {}),
        ...(row ? { notification: structuredClone(row.record) } : {}),
      }),
      write: async (header, record) => {
        if (header.etag !== (row ? String(row.etag) : undefined)) return false;
        row = { etag: (row?.etag ?? 0) + 1, record: structuredClone(record) };
        return true;
      },
    },
    queue: { send: async (m) => void sent.push(m) },
    log: silentLogger,
  };
  return {
    deps,
    sent,
    row: () => row?.record,
    finish: (final: Partial<StateCounts>, at: string) => {
      counts = { ...emptyCounts(), ...final };
      lastUpdatedAt = at;
    },
  };
}

describe("notifyIfFinal", () => {
  it("does nothing for a running batch or one without a callback", async () => {
    expect(await notifyIfFinal(setup().deps, ID)).toBe("running");
    const none = setup(null);
    none.finish({ imported: 2 }, "2026-11-29T01:05:00.000Z");
    expect(await notifyIfFinal(none.deps, ID)).toBe("no-callback");
    expect(none.sent).toEqual([]);
  });

  it("records one event per final status, whoever else tries at the same time", async () => {
    const t = setup();
    t.finish({ imported: 1, failed: 1 }, "2026-11-29T01:05:00.000Z");
    const outcomes = await Promise.all([notifyIfFinal(t.deps, ID), notifyIfFinal(t.deps, ID), notifyIfFinal(t.deps, ID)]);
    expect(outcomes.filter((o) => o === "recorded")).toHaveLength(1);
    const event = t.row()!;
    expect(event).toMatchObject({ finalAt: "2026-11-29T01:05:00.000Z", status: "partially_succeeded", state: "pending", attempts: [] });
    const body = JSON.parse(event.body) as { type: string; data: Record<string, unknown> };
    expect(body).toMatchObject({
      type: "import.completed",
      data: { id: ID, status: "partially_succeeded", counts: { imported: 1, failed: 1 } },
    });
    // The event carries the batch view only: no callback URL, no notification of itself.
    expect(event.body).not.toContain("secret=1");
    expect(body.data).not.toHaveProperty("notification");
    // Every message names this one event's first attempt.
    expect(new Set(t.sent.map((m) => `${m.eventId}/${m.attempt}`))).toEqual(new Set([`${event.eventId}/1`]));
  });

  it("makes a new event when the batch is final again later (after a retry)", async () => {
    const t = setup();
    t.finish({ imported: 1, failed: 1 }, "2026-11-29T01:05:00.000Z");
    await notifyIfFinal(t.deps, ID);
    const first = t.row()!.eventId;
    t.finish({ imported: 2 }, "2026-11-29T01:20:00.000Z");
    expect(await notifyIfFinal(t.deps, ID)).toBe("recorded");
    expect(t.row()).toMatchObject({ status: "succeeded", finalAt: "2026-11-29T01:20:00.000Z", earlierEvents: 1 });
    expect(t.row()!.eventId).not.toBe(first);
  });

  it("queues the first attempt again only while no attempt has started", async () => {
    const t = setup();
    t.finish({ imported: 2 }, "2026-11-29T01:05:00.000Z");
    await notifyIfFinal(t.deps, ID);
    expect(await notifyIfFinal(t.deps, ID)).toBe("already-recorded");
    expect(t.sent).toHaveLength(2);
    const header = await t.deps.notifications.read(ID);
    await t.deps.notifications.write(header!, { ...header!.notification!, inFlight: 1, claimedBy: "q1" });
    expect(await notifyIfFinal(t.deps, ID)).toBe("already-recorded");
    expect(t.sent).toHaveLength(2);
  });
});
