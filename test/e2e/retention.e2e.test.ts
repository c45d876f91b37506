import { randomUUID } from "node:crypto";
import { TableClient } from "@azure/data-tables";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { functionDefinitions } from "../../src/app/functionDefinitions.js";
import { eraseBatch, eraseDueBatches, type ErasureDeps } from "../../src/batches/eraseBatch.js";
import { silentLogger } from "../../src/telemetry/logging.js";
import {
  DEVICE_POISON_QUEUE,
  DEVICE_QUEUE,
  FOLLOWER_POISON_QUEUE,
  FOLLOWER_QUEUE,
  WEBHOOK_POISON_QUEUE,
  WEBHOOK_QUEUE,
} from "../../src/storage/names.js";
import { firstPoll, pollBatch, type PollDeps } from "../../src/worker/pollBatch.js";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhookReceiver.js";
import { makeDevices } from "../support/devices.js";
import { addTestPartner } from "../support/partners.js";
import { allDevices, startPipeline, TENANT_A, waitForBatch, type Pipeline } from "../support/pipeline.js";

/**
 * How long what a batch carries is kept, looked at in storage itself, not only through the API:
 * hashes and product keys gone once imported (and no copy of them anywhere else), the whole batch
 * gone from every table once it expires or its owner erases it, and after an erasure that died
 * midway, once it is finished.
 */
const RETENTION_DAYS = 2;
let pipeline: Pipeline;
let receiver: WebhookReceiver;

beforeAll(async () => {
  receiver = await startWebhookReceiver(() => pipeline.partner.webhookSecret, [200]);
  pipeline = await startPipeline({
    // Webhook deliveries are drained by a timer; every 200 ms here instead of every 5 s.
    timers: ["deliverWebhooks"],
    definitions: functionDefinitions.map((d) => (d.kind === "timer" && d.name === "deliverWebhooks" ? { ...d, everyMs: 200 } : d)),
    env: { BATCH_RETENTION_DAYS: String(RETENTION_DAYS), WEBHOOK_ALLOWED_HOSTS: receiver.host },
  });
});
afterAll(async () => {
  await pipeline?.stop();
  await receiver?.stop();
});

function erasure(now?: () => Date): ErasureDeps {
  const s = pipeline.services;
  return {
    store: s.store,
    index: s.batchIndex,
    idempotency: s.idempotency,
    journal: s.journal,
    log: silentLogger,
    ...(now ? { now } : {}),
  };
}

/** Every entity, in every table of the account, that mentions the batch anywhere: key or value. */
async function leftOf(batchId: string): Promise<string[]> {
  const found: string[] = [];
  const tables = Object.values(pipeline.services.storage).filter((c): c is TableClient => c instanceof TableClient);
  for (const table of tables) {
    for await (const row of table.listEntities()) {
      if (JSON.stringify(row).includes(batchId)) found.push(`${table.tableName}: ${row.partitionKey}/${row.rowKey}`);
    }
  }
  return found;
}

/** Every entity of every table, as text, each named by its table and keys. */
async function everyEntity(): Promise<{ where: string; text: string }[]> {
  const found: { where: string; text: string }[] = [];
  const tables = Object.values(pipeline.services.storage).filter((c): c is TableClient => c instanceof TableClient);
  for (const table of tables) {
    for await (const row of table.listEntities())
      found.push({ where: `${table.tableName}: ${row.partitionKey}/${row.rowKey}`, text: JSON.stringify(row) });
  }
  return found;
}

/** The messages of every queue that can be seen now (a delayed message cannot be peeked). */
async function visibleMessages(): Promise<string[]> {
  const texts: string[] = [];
  for (const name of [DEVICE_QUEUE, DEVICE_POISON_QUEUE, FOLLOWER_QUEUE, FOLLOWER_POISON_QUEUE, WEBHOOK_QUEUE, WEBHOOK_POISON_QUEUE]) {
    const { peekedMessageItems } = await pipeline.services.storage.queueNamed(name).peekMessages({ numberOfMessages: 32 });
    for (const item of peekedMessageItems) texts.push(item.messageText, Buffer.from(item.messageText, "base64").toString("utf8"));
  }
  return texts;
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

async function rowsOf(batchId: string): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  for await (const row of pipeline.services.storage.imports.listEntities({ queryOptions: { filter: `PartitionKey eq '${batchId}'` } }))
    rows.push(row);
  return rows;
}

function devicesOf(prefix: string, count: number) {
  return makeDevices(count, prefix).map((d, i) => ({
    ...d,
    productKey: `PKEY-${prefix}-${i}`,
    assignedUserPrincipalName: `user.${i}@${prefix.toLowerCase()}.example`,
  }));
}

async function submit(
  prefix: string,
  count: number,
  options: { idempotencyKey?: string; register?: number; callbackPath?: string } = {},
): Promise<string> {
  const devices = devicesOf(prefix, count);
  for (const d of devices.slice(0, options.register ?? 0)) pipeline.simulator.registerDevice(TENANT_A, { serialNumber: d.serialNumber });
  const response = await fetch(`${pipeline.api}/imports`, {
    method: "POST",
    headers: {
      ...pipeline.headers,
      "content-type": "application/json",
      ...(options.idempotencyKey ? { "idempotency-key": options.idempotencyKey } : {}),
    },
    body: JSON.stringify({
      tenantId: TENANT_A,
      devices,
      ...(options.callbackPath ? { callbackUrl: receiver.url(options.callbackPath) } : {}),
    }),
  });
  expect(response.status).toBe(202);
  return ((await response.json()) as { id: string }).id;
}

/** A final batch's expiry is recorded by its poll chain's last round, moments after the counts say final. */
async function expiryOf(id: string): Promise<{ completedAt: string; expiresAt: string }> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const view = (await (await get(id)).json()) as { status: string; completedAt: string; expiresAt?: string };
    if (view.expiresAt) return view as { completedAt: string; expiresAt: string };
    if (Date.now() > deadline) throw new Error(`batch ${id} shows no expiresAt: ${JSON.stringify(view)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const del = (id: string, headers = pipeline.headers) => fetch(`${pipeline.api}/imports/${id}`, { method: "DELETE", headers });
const get = (id: string) => fetch(`${pipeline.api}/imports/${id}`, { headers: pipeline.headers });

describe("what a batch leaves in storage", () => {
  it("drops an imported device's hash, product key and user in the write that records it; a failed one keeps them for a retry", async () => {
    const id = await submit("KEEP", 3, { register: 1 });
    await waitForBatch(pipeline, id);
    const devices = (await rowsOf(id)).filter((r) => String(r.rowKey).startsWith("device-"));
    const imported = devices.filter((r) => r.state === "imported");
    const failed = devices.filter((r) => r.state === "failed");
    expect(imported).toHaveLength(2);
    expect(failed).toHaveLength(1);
    for (const row of imported) {
      expect(row.hardwareIdentifier).toBeUndefined();
      expect(row.productKey).toBeUndefined();
      expect(row.assignedUserPrincipalName).toBeUndefined();
      // What the partner is shown stays: serial number, outcome, Graph's ids.
      expect(row).toMatchObject({ serialNumber: expect.any(String), graphId: expect.any(String) });
    }
    expect(failed[0]!.hardwareIdentifier).toEqual(expect.any(String));
    expect(failed[0]!.productKey).toBe("PKEY-KEEP-0");
    expect(failed[0]!.assignedUserPrincipalName).toBe("user.0@keep.example");
  });

  it("keeps no other copy of a device's hash, product key or user: no table, visible queue message, webhook payload or log line", async () => {
    const devices = devicesOf("NOCOPY", 4);
    const id = await submit("NOCOPY", 4, { register: 1, idempotencyKey: `nocopy-${randomUUID()}`, callbackPath: "/nocopy" });
    await waitForBatch(pipeline, id);
    const delivered = await until(
      "the webhook delivered",
      async () => receiver.received.filter((r) => r.path === "/nocopy"),
      (r) => r.length > 0,
    );
    const [failed, ...imported] = devices;
    const entities = await everyEntity();
    const messages = await visibleMessages();
    const logs = pipeline.logs.map((line) => JSON.stringify(line));
    for (const d of imported) {
      for (const secret of [d.hardwareIdentifier, d.productKey, d.assignedUserPrincipalName]) {
        expect(entities.filter((e) => e.text.includes(secret)).map((e) => e.where)).toEqual([]);
      }
    }
    // The failed device keeps its own in its row alone, for a retry, until the batch expires.
    for (const secret of [failed!.hardwareIdentifier, failed!.productKey, failed!.assignedUserPrincipalName]) {
      expect(entities.filter((e) => e.text.includes(secret)).map((e) => e.where)).toEqual([`imports: ${id}/device-000000`]);
    }
    for (const d of devices) {
      for (const secret of [d.hardwareIdentifier, d.productKey, d.assignedUserPrincipalName]) {
        expect(messages.filter((m) => m.includes(secret))).toEqual([]);
        expect(delivered.filter((r) => r.body.includes(secret))).toEqual([]);
        expect(logs.filter((line) => line.includes(secret))).toEqual([]);
      }
    }
  });

  it("shows a final batch's expiry, and erases it from every table once that has passed", async () => {
    const id = await submit("EXPIRE", 2, { idempotencyKey: `expire-${randomUUID()}` });
    await waitForBatch(pipeline, id);
    const view = await expiryOf(id);
    expect(Date.parse(view.expiresAt) - Date.parse(view.completedAt)).toBe(RETENTION_DAYS * 86_400_000);
    expect((await leftOf(id)).length).toBeGreaterThan(0);

    // Not yet: a day early nothing is erased.
    await eraseDueBatches(erasure(() => new Date(Date.parse(view.expiresAt) - 86_400_000)));
    expect((await get(id)).status).toBe(200);
    await eraseDueBatches(erasure(() => new Date(Date.parse(view.expiresAt) + 1_000)));
    expect((await get(id)).status).toBe(404);
    expect(await leftOf(id)).toEqual([]);
  });

  it("erases a finished batch on its owner's DELETE: 204, then 404, and nothing left anywhere", async () => {
    const id = await submit("ERASE", 3, { idempotencyKey: `erase-${randomUUID()}`, register: 1 });
    await waitForBatch(pipeline, id);
    const other = await addTestPartner(pipeline.services, { tenants: [TENANT_A] });
    expect((await del(id, other.headers)).status).toBe(404);
    const erased = await del(id);
    expect(erased.status).toBe(204);
    expect((await get(id)).status).toBe(404);
    expect((await fetch(`${pipeline.api}/imports/${id}/devices`, { headers: pipeline.headers })).status).toBe(404);
    const listed = (await (await fetch(`${pipeline.api}/imports?pageSize=100`, { headers: pipeline.headers })).json()) as {
      value: { id: string }[];
    };
    expect(listed.value.map((b) => b.id)).not.toContain(id);
    expect(await leftOf(id)).toEqual([]);
    expect((await del(id)).status).toBe(404);
  });

  it("erases a batch with a webhook event, and a late notification of it leaves nothing behind", async () => {
    const id = await submit("HOOKED", 2, { callbackPath: "/hooked" });
    await waitForBatch(pipeline, id);
    await until(
      "the webhook delivered",
      async () => receiver.received.filter((r) => r.path === "/hooked").length,
      (n) => n > 0,
    );
    // A poll round that read the header before the erasure, and records the event after it.
    const seen = (await pipeline.services.webhooks.notifications.read(id))!;
    expect(seen.notification).toBeDefined();
    expect((await del(id)).status).toBe(204);
    const record = { ...seen.notification!, eventId: "evt_late" };
    expect(await pipeline.services.webhooks.notifications.write(seen, record)).toBe(false);
    expect(await pipeline.services.webhooks.notifications.write({ ...seen, etag: undefined }, record)).toBe(false);
    expect(await leftOf(id)).toEqual([]);
  });

  it("erases once when two DELETEs arrive together", async () => {
    const id = await submit("TWICE", 3, { idempotencyKey: `twice-${randomUUID()}` });
    await waitForBatch(pipeline, id);
    const statuses = (await Promise.all([del(id), del(id)])).map((r) => r.status);
    expect(statuses).toContain(204);
    for (const status of statuses) expect([204, 404]).toContain(status);
    expect(await leftOf(id)).toEqual([]);
  });

  it("refuses to erase a running batch, saying to cancel it first", async () => {
    const [slow] = makeDevices(1, "RUNNING");
    pipeline.simulator.injectFaults({ kind: "delay", ms: 3_000, times: 1, match: { serialNumber: slow!.serialNumber } });
    const response = await fetch(`${pipeline.api}/imports`, {
      method: "POST",
      headers: { ...pipeline.headers, "content-type": "application/json" },
      body: JSON.stringify({ tenantId: TENANT_A, devices: [slow] }),
    });
    const { id } = (await response.json()) as { id: string };
    const refused = await del(id);
    expect(refused.status).toBe(409);
    expect(refused.headers.get("content-type")).toContain("application/problem+json");
    expect(((await refused.json()) as { detail: string }).detail).toMatch(/cancel/);
    await waitForBatch(pipeline, id);
    expect((await del(id)).status).toBe(204);
  });

  it("finishes an erasure that died midway: the batch is gone for readers at once, and from storage after the next timer run", async () => {
    const id = await submit("HALF", 4, { idempotencyKey: `half-${randomUUID()}` });
    await waitForBatch(pipeline, id);
    const header = (await pipeline.services.store.readBatch(id))!;
    const dying: ErasureDeps = {
      ...erasure(),
      idempotency: {
        deleteForBatch: async () => {
          throw new Error("host died");
        },
      },
    };
    await expect(eraseBatch(dying, { partnerId: header.partnerId, batchId: id, createdAt: header.createdAt })).rejects.toThrow("host died");
    expect((await get(id)).status).toBe(404);
    expect((await fetch(`${pipeline.api}/imports/${id}/devices`, { headers: pipeline.headers })).status).toBe(404);
    expect((await del(id)).status).toBe(404);
    const listed = (await (await fetch(`${pipeline.api}/imports?pageSize=100`, { headers: pipeline.headers })).json()) as {
      value: { id: string }[];
    };
    expect(listed.value.map((b) => b.id)).not.toContain(id);
    // Work still queued for it finds nothing to do, and adds nothing to it.
    expect(
      await pollBatch({ store: pipeline.services.store } as unknown as PollDeps, { ...firstPoll(id), attempt: 99 }, "late-round"),
    ).toBe("stale");
    expect(await pipeline.services.webhooks.notifications.read(id)).toBeUndefined();
    expect((await leftOf(id)).length).toBeGreaterThan(0);
    await eraseDueBatches(erasure());
    expect(await leftOf(id)).toEqual([]);
  });

  it("keeps a retried batch until it is final again", async () => {
    const [flaky] = makeDevices(1, "RETRIED");
    pipeline.simulator.injectFaults({
      kind: "status",
      status: 503,
      times: 20,
      match: { method: "POST", serialNumber: flaky!.serialNumber },
    });
    const response = await fetch(`${pipeline.api}/imports`, {
      method: "POST",
      headers: { ...pipeline.headers, "content-type": "application/json" },
      body: JSON.stringify({ tenantId: TENANT_A, devices: [flaky] }),
    });
    const { id } = (await response.json()) as { id: string };
    await waitForBatch(pipeline, id, 120_000);
    const failed = await expiryOf(id);
    pipeline.simulator.clearFaults();
    expect((await fetch(`${pipeline.api}/imports/${id}/retry`, { method: "POST", headers: pipeline.headers })).status).toBe(202);
    // Running again: an expiry timer run past the old expiry leaves it.
    await eraseDueBatches(erasure(() => new Date(Date.parse(failed.expiresAt) + 1_000)));
    expect((await get(id)).status).toBe(200);
    await waitForBatch(pipeline, id);
    const again = await expiryOf(id);
    expect(Date.parse(again.expiresAt)).toBeGreaterThanOrEqual(Date.parse(failed.expiresAt));
    expect((await allDevices(pipeline, id))[0]).toMatchObject({ state: "imported" });
  });
});
