import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { functionDefinitions } from "../../src/app/functionDefinitions.js";
import { PROBLEM_CONTENT_TYPE, ProblemType } from "../../src/http/problem.js";
import { IN_FLIGHT_LEASE_MS, keyRowKey } from "../../src/intake/idempotencyKey.js";
import { BATCH_ROW_KEY } from "../../src/storage/importEntities.js";
import { makeCsv, makeDevices } from "../support/devices.js";
import { addTestPartner } from "../support/partners.js";
import { startPipeline, TENANT_A, type Pipeline } from "../support/pipeline.js";
import { queuedMessages } from "../support/queuedMessages.js";

/**
 * Idempotency-Key on POST /api/imports against real Azurite, with the worker left out so every
 * message intake sent stays countable in the queue.
 */
let pipeline: Pipeline;

beforeAll(async () => {
  pipeline = await startPipeline({ definitions: functionDefinitions.filter((d) => d.kind === "http") });
});
afterAll(async () => pipeline?.stop());

let keys = 0;
const newKey = () => `key-${Date.now()}-${++keys}`;

function post(key: string | undefined, body: Buffer | string, query = `?tenantId=${TENANT_A}`, headers = pipeline.headers) {
  return fetch(`${pipeline.api}/imports${query}`, {
    method: "POST",
    headers: { ...headers, "content-type": "text/csv", ...(key === undefined ? {} : { "idempotency-key": key }) },
    body,
  });
}

async function queued(): Promise<number> {
  return queuedMessages(pipeline.services.storage);
}

/** Batch headers of a partner: how many batches really exist. */
async function batchesOf(partnerId: string): Promise<string[]> {
  const ids: string[] = [];
  const rows = pipeline.services.storage.imports.listEntities<{ partnerId: string }>({
    queryOptions: { filter: `RowKey eq '${BATCH_ROW_KEY}' and partnerId eq '${partnerId}'` },
  });
  for await (const row of rows) ids.push(row.partitionKey!);
  return ids;
}

describe("Idempotency-Key", () => {
  it("proves twelve concurrent requests with one key create one batch, and the rest are 409 or the same 202", async () => {
    const partner = await addTestPartner(pipeline.services, { tenants: [TENANT_A] });
    const body = makeCsv(makeDevices(30, "CONC"));
    const key = newKey();
    const before = await queued();
    const responses = await Promise.all(Array.from({ length: 12 }, () => post(key, body, `?tenantId=${TENANT_A}`, partner.headers)));
    const statuses = responses.map((r) => r.status);
    expect(
      statuses.every((s) => s === 202 || s === 409),
      statuses.join(),
    ).toBe(true);
    const accepted = await Promise.all(responses.filter((r) => r.status === 202).map((r) => r.json() as Promise<{ id: string }>));
    expect(new Set(accepted.map((a) => a.id)).size).toBe(1);
    for (const conflict of responses.filter((r) => r.status === 409)) {
      expect(conflict.headers.get("content-type")).toBe(PROBLEM_CONTENT_TYPE);
      expect(((await conflict.json()) as { type: string }).type).toBe(ProblemType.idempotencyKeyInFlight);
    }
    expect(await batchesOf(partner.partnerId)).toEqual([accepted[0]!.id]);
    // 30 devices and one poll round, once
    expect((await queued()) - before).toBe(31);

    // once settled, the same request gets the original answer and nothing more is enqueued
    const again = await post(key, body, `?tenantId=${TENANT_A}`, partner.headers);
    expect(again.status).toBe(202);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.headers.get("location")).toBe(`/api/imports/${accepted[0]!.id}`);
    expect(((await again.json()) as { id: string }).id).toBe(accepted[0]!.id);
    expect((await queued()) - before).toBe(31);
    expect(await batchesOf(partner.partnerId)).toHaveLength(1);
  });

  it("answers 422 for the same key with another body or another query string", async () => {
    const key = newKey();
    const body = makeCsv(makeDevices(2, "MISMATCH"));
    expect((await post(key, body)).status).toBe(202);
    const before = await queued();
    for (const response of [
      await post(key, makeCsv(makeDevices(3, "MISMATCH"))),
      await post(key, body, `?tenantId=${TENANT_A}&groupTag=X`),
    ]) {
      expect(response.status).toBe(422);
      expect(((await response.json()) as { type: string }).type).toBe(ProblemType.idempotencyKeyReused);
    }
    expect(await queued()).toBe(before);
  });

  it("keeps keys per partner: another partner's same key is a new batch", async () => {
    const key = newKey();
    const body = makeCsv(makeDevices(1, "PERPARTNER"));
    const other = await addTestPartner(pipeline.services, { tenants: [TENANT_A] });
    const first = (await (await post(key, body)).json()) as { id: string };
    const second = await post(key, body, `?tenantId=${TENANT_A}`, other.headers);
    expect(second.status).toBe(202);
    expect(second.headers.get("idempotent-replayed")).toBeNull();
    expect(((await second.json()) as { id: string }).id).not.toBe(first.id);
  });

  it("releases the key when the request is refused, so the corrected request may use it", async () => {
    const key = newKey();
    expect((await post(key, "Device Serial Number,Hardware Hash\nX,not-base64\n")).status).toBe(400);
    expect((await post(key, makeCsv(makeDevices(1, "FIXED")))).status).toBe(202);
  });

  it("answers 400 for a malformed key", async () => {
    const response = await post("x".repeat(300), makeCsv(makeDevices(1, "BADKEY")));
    expect(response.status).toBe(400);
    expect(((await response.json()) as { type: string }).type).toBe(ProblemType.invalidIdempotencyKey);
  });

  it("keeps records at least 24 hours", async () => {
    const key = newKey();
    expect((await post(key, makeCsv(makeDevices(1, "TTL")))).status).toBe(202);
    const row = await pipeline.services.storage.idempotency.getEntity<{ expiresAt: number; claimedAt: number }>(
      pipeline.partner.partnerId,
      keyRowKey(key),
    );
    expect(row.expiresAt - row.claimedAt).toBeGreaterThanOrEqual(24 * 3_600_000);
  });

  it("deletes expired records in the hourly sweep, and only those", async () => {
    const [old, fresh] = [newKey(), newKey()];
    expect((await post(old, makeCsv(makeDevices(1, "OLD")))).status).toBe(202);
    expect((await post(fresh, makeCsv(makeDevices(1, "FRESH")))).status).toBe(202);
    await pipeline.services.storage.idempotency.updateEntity(
      { partitionKey: pipeline.partner.partnerId, rowKey: keyRowKey(old), expiresAt: Date.now() - 1 },
      "Merge",
    );
    const sweep = functionDefinitions.find((d) => d.name === "sweepIdempotencyKeys");
    if (sweep?.kind !== "timer") throw new Error("no sweepIdempotencyKeys timer");
    await sweep.handle(pipeline.services);
    expect(await pipeline.services.idempotency.read(pipeline.partner.partnerId, old)).toBeUndefined();
    expect(await pipeline.services.idempotency.read(pipeline.partner.partnerId, fresh)).toBeDefined();
  });

  describe("a first request that died holding the key", () => {
    /** Ages the record as if its request had been in flight longer than the lease. */
    async function abandon(key: string, batchId: string) {
      await pipeline.services.storage.idempotency.updateEntity(
        {
          partitionKey: pipeline.partner.partnerId,
          rowKey: keyRowKey(key),
          state: "in-flight",
          batchId,
          claimedAt: Date.now() - IN_FLIGHT_LEASE_MS - 1_000,
        },
        "Merge",
      );
    }

    it("is answered for its batch when that batch was recorded, without a second batch", async () => {
      const key = newKey();
      const body = makeCsv(makeDevices(2, "DIED-AFTER"));
      const first = (await (await post(key, body)).json()) as { id: string };
      await abandon(key, first.id);
      const before = await queued();
      const retry = await post(key, body);
      expect(retry.status).toBe(202);
      expect(((await retry.json()) as { id: string }).id).toBe(first.id);
      expect(await queued()).toBe(before);
    });

    it("is taken over when nothing was recorded", async () => {
      const key = newKey();
      const body = makeCsv(makeDevices(2, "DIED-BEFORE"));
      expect((await post(key, body)).status).toBe(202);
      await abandon(key, "00000000-0000-4000-8000-00000000dead");
      const before = await queued();
      const retry = await post(key, body);
      expect(retry.status).toBe(202);
      expect(((await retry.json()) as { id: string }).id).not.toBe("00000000-0000-4000-8000-00000000dead");
      expect((await queued()) - before).toBe(3);
    });
  });
});
