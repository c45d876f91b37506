import { describe, expect, it } from "vitest";
import { silentLogger } from "../../src/telemetry/logging.js";
import type { DeliveryMessage } from "../../src/webhooks/deliveryMessage.js";
import { deliverWebhook, type DeliverDeps } from "../../src/webhooks/deliverWebhook.js";
import { failPoisonedDelivery } from "../../src/webhooks/poisonedDelivery.js";
import type { NotificationRecord } from "../../src/webhooks/notificationRecord.js";
import type { BatchNotificationHeader } from "../../src/webhooks/notificationStore.js";
import type { AttemptResult } from "../../src/model/retrySchedule.js";
import { generateWebhookSecret, signWebhook } from "../../src/model/webhookSigning.js";

/** The batch header's webhook columns in memory, with ETags like Table storage's. */
class MemoryHeader {
  etag = 1;
  constructor(
    public record: NotificationRecord,
    public partnerId = "p1",
    public callbackUrl = "https://hooks.example.com/x?k=1",
  ) {}
  async read(batchId: string): Promise<BatchNotificationHeader> {
    return {
      batchId,
      etag: String(this.etag),
      partnerId: this.partnerId,
      callbackUrl: this.callbackUrl,
      notification: structuredClone(this.record),
    };
  }
  async write(header: BatchNotificationHeader, record: NotificationRecord): Promise<boolean> {
    if (header.etag !== String(this.etag)) return false;
    this.record = structuredClone(record);
    this.etag++;
    return true;
  }
}

const secret = generateWebhookSecret();
const event = (): NotificationRecord => ({
  eventId: "evt_1",
  finalAt: "2026-11-29T01:00:00.000Z",
  status: "succeeded",
  createdAt: "2026-11-29T01:00:00.000Z",
  body: '{"type":"import.completed"}',
  state: "pending",
  attempts: [],
});
const message = (attempt: number): DeliveryMessage => ({ v: 1, kind: "deliverWebhook", batchId: "b1", eventId: "evt_1", attempt });

function setup(answers: AttemptResult[], record = event()) {
  const header = new MemoryHeader(record);
  const sent: { message: DeliveryMessage; delayMs: number }[] = [];
  const posts: { url: string; headers: Record<string, string>; body: string }[] = [];
  let now = Date.parse("2026-11-29T02:00:00.000Z");
  const deps: DeliverDeps = {
    notifications: header,
    queue: { send: async (m, delayMs = 0) => void sent.push({ message: m, delayMs }) },
    secrets: { secretsFor: async (partnerId) => (partnerId === "p1" ? [secret] : []) },
    post: async (url, headers, body) => {
      posts.push({ url, headers, body });
      now += 50;
      return answers.shift() ?? { kind: "response", status: 200 };
    },
    retryScheduleMs: [60_000, 120_000],
    log: silentLogger,
    now: () => new Date(now),
  };
  return { header, sent, posts, deps, advance: (ms: number) => (now += ms) };
}

describe("deliverWebhook", () => {
  it("signs, records each attempt, follows the schedule, and gives up when it is spent", async () => {
    const { header, sent, posts, deps, advance } = setup([
      { kind: "response", status: 500 },
      { kind: "timeout" },
      { kind: "connection-error", message: "ECONNRESET" },
    ]);
    expect(await deliverWebhook(deps, message(1), "q1")).toBe("retrying");
    expect(sent).toEqual([{ message: message(2), delayMs: 60_000 }]);
    advance(60_000);
    expect(await deliverWebhook(deps, message(2), "q2")).toBe("retrying");
    expect(sent[1]).toEqual({ message: message(3), delayMs: 120_000 });
    advance(120_000);
    expect(await deliverWebhook(deps, message(3), "q3")).toBe("failed");
    expect(sent).toHaveLength(2);

    expect(header.record.state).toBe("failed");
    expect(header.record.reason).toBe("no success after 3 attempts");
    expect(header.record.attempts.map((a) => [a.attempt, a.status ?? a.error])).toEqual([
      [1, 500],
      [2, "timeout"],
      [3, "connection error (ECONNRESET)"],
    ]);
    // The same id and body every time, a fresh timestamp, and a signature over all three.
    expect(new Set(posts.map((p) => p.headers["webhook-id"]))).toEqual(new Set(["evt_1"]));
    expect(new Set(posts.map((p) => p.headers["webhook-timestamp"])).size).toBe(3);
    for (const p of posts)
      expect(p.headers["webhook-signature"]).toBe(signWebhook(secret, "evt_1", Number(p.headers["webhook-timestamp"]), p.body));
  });

  it("stops at 410 Gone", async () => {
    const { header, sent, deps } = setup([{ kind: "response", status: 410 }]);
    expect(await deliverWebhook(deps, message(1), "q1")).toBe("failed");
    expect(header.record).toMatchObject({ state: "failed", reason: expect.stringContaining("410") });
    expect(sent).toEqual([]);
  });

  it("lets only one of two copies of a message POST", async () => {
    const { posts, deps } = setup([]);
    const outcomes = await Promise.all([deliverWebhook(deps, message(1), "copy-a"), deliverWebhook(deps, message(1), "copy-b")]);
    expect(outcomes.sort()).toEqual(["delivered", "stale"]);
    expect(posts).toHaveLength(1);
    expect(await deliverWebhook(deps, message(1), "copy-c")).toBe("stale");
    expect(posts).toHaveLength(1);
  });

  it("POSTs again when its own host died mid-attempt, but not for another copy holding the claim", async () => {
    const { header, posts, deps } = setup([]);
    header.record = { ...event(), inFlight: 1, claimedBy: "q1" };
    expect(await deliverWebhook(deps, message(1), "other")).toBe("stale");
    expect(posts).toHaveLength(0);
    expect(await deliverWebhook(deps, message(1), "q1")).toBe("delivered");
    expect(posts).toHaveLength(1);
  });

  it("queues the next attempt when its host died after recording the failure", async () => {
    const { header, sent, posts, deps } = setup([]);
    const at = "2026-11-29T02:00:00.000Z";
    header.record = { ...event(), attempts: [{ attempt: 1, at, status: 500 }], claimedBy: "q1", nextAttemptAt: "2026-11-29T02:00:30.000Z" };
    expect(await deliverWebhook(deps, message(1), "q1")).toBe("resumed");
    expect(posts).toHaveLength(0);
    expect(sent).toEqual([{ message: message(2), delayMs: 30_000 }]);
  });

  it("drops messages of an event that a newer one replaced, or that is already settled", async () => {
    const { header, posts, deps } = setup([]);
    header.record = { ...event(), eventId: "evt_2" };
    expect(await deliverWebhook(deps, message(1), "q1")).toBe("stale");
    header.record = { ...event(), state: "delivered", attempts: [{ attempt: 1, at: "x", status: 200 }] };
    expect(await deliverWebhook(deps, message(2), "q2")).toBe("stale");
    expect(posts).toHaveLength(0);
  });

  it("never sends unsigned: a partner without a secret fails the event", async () => {
    const { header, posts, deps } = setup([]);
    header.partnerId = "no-secret";
    expect(await deliverWebhook(deps, message(1), "q1")).toBe("failed");
    expect(posts).toHaveLength(0);
    expect(header.record.reason).toMatch(/no webhook signing secret/);
  });

  it("a poisoned delivery message fails its pending event", async () => {
    const { header, deps } = setup([]);
    const payload = Buffer.from(JSON.stringify(message(2))).toString("base64");
    expect(await failPoisonedDelivery(deps, payload)).toBe("failed");
    expect(header.record.state).toBe("failed");
    expect(await failPoisonedDelivery(deps, payload)).toBe("stale");
    expect(await failPoisonedDelivery(deps, "not base64 json")).toBe("unreadable");
  });
});
