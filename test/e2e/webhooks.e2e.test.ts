import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LookupAddress } from "node:dns";
import { makeDevices } from "../support/devices.js";
import { startPipeline, TENANT_A, TENANT_B, waitForBatch, type Pipeline } from "../support/pipeline.js";
import { startWebhookReceiver, verifyStandardWebhook, type WebhookReceiver } from "../support/webhookReceiver.js";
import { generateWebhookSecret } from "../../src/model/webhookSigning.js";
import { functionDefinitions } from "../../src/app/functionDefinitions.js";
import type { HttpFunctionDefinition } from "../../src/app/functionTypes.js";
import { buildOpenApiDocument } from "../../src/app/openapi/document.js";
import { WEBHOOK_QUEUE } from "../../src/storage/names.js";
import { validateJson } from "../support/jsonSchema.js";
import { notifyIfFinal } from "../../src/status/notifyBatch.js";
import { safeLookup } from "../../src/webhooks/safeLookup.js";
import { createWebhookPoster } from "../../src/webhooks/webhookClient.js";

/**
 * Batch-completion webhooks through the whole pipeline: a receiver on this machine (let through
 * by WEBHOOK_ALLOWED_HOSTS) verifies each signature on its own and answers 500, 500, then 200.
 * The retry schedule is shortened to one second a step so the retries happen within the test, and
 * the timer that drains the deliveries runs every 200 ms.
 */
let pipeline: Pipeline;
let receiver: WebhookReceiver;

interface NotificationBody {
  callbackHost: string;
  eventId?: string;
  state?: string;
  attempts?: { attempt: number; at: string; status?: number; error?: string }[];
  reason?: string;
}

beforeAll(async () => {
  receiver = await startWebhookReceiver(() => pipeline.partner.webhookSecret, [500, 500, 200]);
  pipeline = await startPipeline({
    // Deliveries are drained by a timer; every 200 ms here instead of every 5 s.
    timers: ["deliverWebhooks"],
    definitions: functionDefinitions.map((d) => (d.kind === "timer" && d.name === "deliverWebhooks" ? { ...d, everyMs: 200 } : d)),
    // Two transient failures exhaust a device, so the retry test gets a retryable failure quickly.
    env: {
      WEBHOOK_ALLOWED_HOSTS: receiver.host,
      WEBHOOK_RETRY_SCHEDULE_MS: "1000,1000,1000",
      WEBHOOK_TIMEOUT_MS: "2000",
      RETRY_MAX_ATTEMPTS: "2",
    },
  });
});
afterAll(async () => {
  await pipeline?.stop();
  await receiver?.stop();
});

async function post(body: object, query = ""): Promise<Response> {
  return fetch(`${pipeline.api}/imports${query}`, {
    method: "POST",
    headers: { ...pipeline.headers, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

async function status(id: string): Promise<{ status: string; notification?: NotificationBody; [key: string]: unknown }> {
  return (await (await fetch(`${pipeline.api}/imports/${id}`, { headers: pipeline.headers })).json()) as never;
}

async function until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, deadlineMs = 30_000): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what} not reached in ${deadlineMs} ms: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const queueDepth = async () => (await pipeline.services.storage.queueNamed(WEBHOOK_QUEUE).getProperties()).approximateMessagesCount ?? -1;

describe("a batch with a callbackUrl", () => {
  it("is told once, signed, after two failed deliveries retried on the schedule", async () => {
    const devices = makeDevices(3, "HOOK");
    const response = await post({ tenantId: TENANT_A, callbackUrl: receiver.url("/autopilot/done?token=receiver-secret-123"), devices });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };

    const final = await waitForBatch(pipeline, id);
    expect(final.status).toBe("succeeded");
    const delivered = await until(
      "delivered",
      () => status(id),
      (s) => s.notification?.state === "delivered",
    );
    // Nothing more is queued, so the three requests are all there will be.
    await until("webhook queue drained", queueDepth, (n) => n === 0);

    expect(receiver.received.map((r) => r.answered)).toEqual([500, 500, 200]);
    for (const request of receiver.received) {
      expect(request.signatureValid).toBe(true);
      expect(request.path).toBe("/autopilot/done?token=receiver-secret-123");
      expect(request.headers["content-type"]).toBe("application/json");
      expect(Math.abs(Number(request.headers["webhook-timestamp"]) * 1000 - request.at)).toBeLessThan(5_000);
    }
    // One event: the same id and the same bytes on every attempt; a fresh timestamp per attempt.
    expect(new Set(receiver.received.map((r) => r.headers["webhook-id"])).size).toBe(1);
    expect(new Set(receiver.received.map((r) => r.body)).size).toBe(1);
    const [first, , third] = receiver.received;
    expect(third!.at - first!.at).toBeGreaterThanOrEqual(1_900);

    const event = JSON.parse(first!.body) as { type: string; timestamp: string; data: Record<string, unknown> };
    expect(event.type).toBe("import.completed");
    expect(Date.parse(event.timestamp)).not.toBeNaN();
    expect(event.data).toMatchObject({ id, status: "succeeded", tenantId: TENANT_A, deviceCount: 3, counts: { imported: 3, failed: 0 } });
    for (const device of devices) expect(first!.body).not.toContain(device.hardwareIdentifier);
    expect(first!.body).not.toContain("receiver-secret-123");

    // The status shows the attempts, and only the host of the callback.
    const notification = delivered.notification!;
    expect(notification).toMatchObject({ callbackHost: receiver.host, eventId: first!.headers["webhook-id"], state: "delivered" });
    expect(notification.attempts!.map((a) => [a.attempt, a.status])).toEqual([
      [1, 500],
      [2, 500],
      [3, 200],
    ]);
    expect(JSON.stringify(delivered)).not.toContain("receiver-secret-123");
    // What the server answers is what the OpenAPI document says.
    const doc = buildOpenApiDocument(
      functionDefinitions.filter((d): d is HttpFunctionDefinition => d.kind === "http"),
      { routePrefix: "api", version: "test" },
    );
    const schema = (doc.paths["/api/imports/{id}"]!.get!.responses["200"] as { content: Record<string, { schema: unknown }> }).content[
      "application/json"
    ]!.schema;
    expect(validateJson(delivered, schema as never, doc)).toEqual([]);
    expect(validateJson({ ...delivered, notification: { ...notification, state: "lost" } }, schema as never, doc)).not.toEqual([]);
    expect(JSON.stringify(delivered)).not.toContain("/autopilot/done");

    // The poll chain's finishing message delivered again: no second event, nothing sent.
    const again = await notifyIfFinal(
      {
        store: pipeline.services.store,
        notifications: pipeline.services.webhooks.notifications,
        queue: pipeline.services.webhooks.queue,
        log: pipeline.services.log,
      },
      id,
    );
    expect(again).toBe("already-recorded");
    expect((await status(id)).notification?.eventId).toBe(notification.eventId);

    // Webhook writes go to their own row: the header's ETag, which the poll chain claims rounds
    // with, does not move.
    const notifications = pipeline.services.webhooks.notifications;
    const headerBefore = (await pipeline.services.store.readBatch(id))!.etag;
    const current = (await notifications.read(id))!;
    expect(await notifications.write(current, { ...current.notification!, reason: "touched by the test" })).toBe(true);
    expect(await notifications.write(current, { ...current.notification!, reason: "a stale copy" })).toBe(false);
    expect((await pipeline.services.store.readBatch(id))!.etag).toBe(headerBefore);
  });

  it("is told when every device failed at create", async () => {
    const devices = makeDevices(2, "HOOKFAIL");
    // Twice each: once for the import action that carries both, once for the device's own create after the chunk is split.
    for (const d of devices)
      pipeline.simulator.injectFaults({ kind: "status", status: 400, times: 2, match: { serialNumber: d.serialNumber } });
    const before = receiver.received.length;
    const response = await post({ tenantId: TENANT_A, callbackUrl: receiver.url("/failed"), devices });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };
    expect((await waitForBatch(pipeline, id)).status).toBe("failed");
    const done = await until(
      "delivered",
      () => status(id),
      (s) => s.notification?.state === "delivered",
    );
    const mine = receiver.received.slice(before).filter((r) => r.path === "/failed");
    expect(mine).toHaveLength(1);
    expect(mine[0]!.signatureValid).toBe(true);
    expect(JSON.parse(mine[0]!.body)).toMatchObject({ type: "import.completed", data: { id, status: "failed", counts: { failed: 2 } } });
    expect(done.notification!.attempts).toHaveLength(1);
  });

  it("records exactly one event when the finish is seen by two messages at once", async () => {
    const response = await post({ tenantId: TENANT_A, callbackUrl: receiver.url("/race"), devices: makeDevices(1, "HOOKRACE") });
    const { id } = (await response.json()) as { id: string };
    await waitForBatch(pipeline, id);
    const deps = {
      store: pipeline.services.store,
      notifications: pipeline.services.webhooks.notifications,
      queue: pipeline.services.webhooks.queue,
      log: pipeline.services.log,
    };
    const outcomes = await Promise.all([notifyIfFinal(deps, id), notifyIfFinal(deps, id), notifyIfFinal(deps, id)]);
    expect(outcomes.filter((o) => o === "recorded").length).toBeLessThanOrEqual(1);
    await until(
      "delivered",
      () => status(id),
      (s) => s.notification?.state === "delivered",
    );
    await until("webhook queue drained", queueDepth, (n) => n === 0);
    const eventId = (await status(id)).notification!.eventId!;

    // Copies of delivery messages that were already acted on are dropped without a request.
    for (const attempt of [1, 2, 3])
      await pipeline.services.webhooks.queue.send({ v: 1, kind: "deliverWebhook", batchId: id, eventId, attempt });
    await until("duplicates consumed", queueDepth, (n) => n === 0);
    const mine = receiver.received.filter((r) => r.path === "/race");
    expect(new Set(mine.map((r) => r.headers["webhook-id"]))).toEqual(new Set([eventId]));
    expect(mine.filter((r) => r.answered === 200)).toHaveLength(1);
    expect((await status(id)).notification!.attempts!.length).toBe(mine.length);
  });
});

describe("a batch final again", () => {
  it("after a retry of its failed devices is a new event", async () => {
    const [device] = makeDevices(1, "HOOKRETRY");
    pipeline.simulator.injectFaults({ kind: "status", status: 503, times: 2, match: { serialNumber: device!.serialNumber } });
    const response = await post({ tenantId: TENANT_A, callbackUrl: receiver.url("/retry"), devices: [device] });
    const { id } = (await response.json()) as { id: string };
    expect((await waitForBatch(pipeline, id)).status).toBe("failed");
    const first = (
      await until(
        "first event delivered",
        () => status(id),
        (s) => s.notification?.state === "delivered",
      )
    ).notification!;

    const retried = await fetch(`${pipeline.api}/imports/${id}/retry`, { method: "POST", headers: pipeline.headers });
    expect(retried.status).toBe(202);
    expect((await waitForBatch(pipeline, id)).status).toBe("succeeded");
    const second = (
      await until(
        "second event delivered",
        () => status(id),
        (s) => s.notification?.eventId !== first.eventId && s.notification?.state === "delivered",
      )
    ).notification!;

    const events = receiver.received
      .filter((r) => r.path === "/retry" && r.answered === 200)
      .map((r) => ({ id: r.headers["webhook-id"], body: JSON.parse(r.body) as { data: { status: string } } }));
    expect(events.map((e) => [e.id, e.body.data.status])).toEqual([
      [first.eventId, "failed"],
      [second.eventId, "succeeded"],
    ]);
  });

  it("canceled is told as canceled", async () => {
    const devices = makeDevices(2, "HOOKCANCEL");
    // Throttled creates leave the devices waiting (retrying, nothing created), where a cancel takes them.
    for (const d of devices)
      pipeline.simulator.injectFaults({
        kind: "status",
        status: 429,
        retryAfterSeconds: 3,
        times: 3,
        match: { serialNumber: d.serialNumber },
      });
    const response = await post({ tenantId: TENANT_B, callbackUrl: receiver.url("/cancel"), devices });
    const { id } = (await response.json()) as { id: string };
    await until(
      "a device waiting",
      () => status(id),
      (s) => ((s.counts as Record<string, number>).retrying ?? 0) > 0,
    );
    const canceled = await fetch(`${pipeline.api}/imports/${id}/cancel`, { method: "POST", headers: pipeline.headers });
    expect(canceled.status).toBe(200);
    expect((await waitForBatch(pipeline, id)).status).toBe("canceled");
    await until(
      "delivered",
      () => status(id),
      (s) => s.notification?.state === "delivered",
    );
    const told = receiver.received.filter((r) => r.path === "/cancel" && r.answered === 200);
    expect(told).toHaveLength(1);
    expect(JSON.parse(told[0]!.body)).toMatchObject({ type: "import.completed", data: { id, status: "canceled" } });
  });
});

describe("a rotated signing secret", () => {
  it("signs with the new and the previous secret while they overlap", async () => {
    const previous = pipeline.partner.webhookSecret;
    const { webhookSecret: current } = await pipeline.services.partners.rotateWebhookSecret(pipeline.partner.partnerId);
    const response = await post({ tenantId: TENANT_A, callbackUrl: receiver.url("/rotated"), devices: makeDevices(1, "HOOKROT") });
    const { id } = (await response.json()) as { id: string };
    await waitForBatch(pipeline, id);
    await until(
      "delivered",
      () => status(id),
      (s) => s.notification?.state === "delivered",
    );
    const request = receiver.received.find((r) => r.path === "/rotated" && r.answered === 200)!;
    expect(String(request.headers["webhook-signature"]).split(" ")).toHaveLength(2);
    expect(verifyStandardWebhook(current, request.headers, request.body)).toBe(true);
    expect(verifyStandardWebhook(previous, request.headers, request.body)).toBe(true);
    expect(verifyStandardWebhook(generateWebhookSecret(), request.headers, request.body)).toBe(false);
  });
});

describe("callback addresses that are refused", () => {
  it.each([
    ["https://127.0.0.1/hook", "loopback"],
    ["https://10.20.30.40/hook", "private"],
    ["https://169.254.169.254/latest/meta-data", "metadata"],
    ["https://[::ffff:192.168.0.1]/hook", "private"],
    ["https://localhost/hook", "localhost"],
    ["http://hooks.example.com/hook", "https"],
    ["https://user:pw@hooks.example.com/hook", "credentials"],
  ])("%s is refused at intake with 400 naming callbackUrl", async (callbackUrl, why) => {
    const response = await post({ tenantId: TENANT_A, callbackUrl, devices: makeDevices(1, "HOOKBAD") });
    expect(response.status).toBe(400);
    expect(response.headers.get("content-type")).toContain("application/problem+json");
    const problem = (await response.json()) as { type: string; errors: { field: string; message: string }[] };
    expect(problem.type).toMatch(/validation-failed$/);
    expect(problem.errors).toEqual([{ field: "callbackUrl", message: expect.stringContaining(why) }]);
  });

  it("is refused in the query string of a CSV batch too", async () => {
    const response = await fetch(
      `${pipeline.api}/imports?tenantId=${TENANT_A}&callbackUrl=${encodeURIComponent("https://192.168.1.1/x")}`,
      {
        method: "POST",
        headers: { ...pipeline.headers, "content-type": "text/csv" },
        body:
          "Device Serial Number,Windows Product ID,Hardware Hash\n" +
          makeDevices(1).map((d) => `${d.serialNumber},,${d.hardwareIdentifier}`)[0] +
          "\n",
      },
    );
    expect(response.status).toBe(400);
    const problem = (await response.json()) as { errors: { field: string }[] };
    expect(problem.errors.map((e) => e.field)).toEqual(["callbackUrl"]);
  });

  it("is not delivered to a name that resolves to a private address, and is not retried", async () => {
    // The name passes intake (it is not a literal address); its DNS answer is private.
    const resolver = async (): Promise<LookupAddress[]> => [{ address: "10.0.0.8", family: 4 }];
    const original = pipeline.services.webhooks.post;
    pipeline.services.webhooks.post = createWebhookPoster({
      timeoutMs: 2000,
      allowedHosts: pipeline.services.config.webhooks.allowedHosts,
      lookup: safeLookup(resolver),
    });
    try {
      const response = await post({
        tenantId: TENANT_A,
        callbackUrl: "https://hooks.partner.example/done",
        devices: makeDevices(1, "HOOKDNS"),
      });
      expect(response.status).toBe(202);
      const { id } = (await response.json()) as { id: string };
      await waitForBatch(pipeline, id);
      const failed = await until(
        "failed",
        () => status(id),
        (s) => s.notification?.state === "failed",
      );
      expect(failed.notification!.attempts).toHaveLength(1);
      expect(failed.notification!.attempts![0]!.error).toMatch(/private address/);
      expect(failed.notification!.callbackHost).toBe("hooks.partner.example");
    } finally {
      pipeline.services.webhooks.post = original;
    }
  });
});
