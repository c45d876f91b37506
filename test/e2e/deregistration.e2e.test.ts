import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { functionDefinitions } from "../../src/app/functionDefinitions.js";
import { createAutopilotImportClient } from "../../clients/typescript/src/index.js";
import { makeDevices } from "../support/devices.js";
import { addTestPartner } from "../support/partners.js";
import { startPipeline, TENANT_A, TENANT_B, type Pipeline } from "../support/pipeline.js";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhookReceiver.js";

/**
 * Deregistration batches through the whole pipeline (Azurite, the simulator, the development
 * host): returned devices found by serial number in the batch's tenant and deleted, one write
 * slot each; a serial number the tenant does not have, a device still enrolled, another
 * partner's tenant, a CSV, an Idempotency-Key replay, and the completion webhook.
 */
let pipeline: Pipeline;
let receiver: WebhookReceiver;

beforeAll(async () => {
  receiver = await startWebhookReceiver(() => pipeline.partner.webhookSecret, [200]);
  pipeline = await startPipeline({
    timers: ["deliverWebhooks"],
    definitions: functionDefinitions.map((d) => (d.kind === "timer" && d.name === "deliverWebhooks" ? { ...d, everyMs: 200 } : d)),
    env: { WEBHOOK_ALLOWED_HOSTS: receiver.host },
  });
});
afterAll(async () => {
  await pipeline?.stop();
  await receiver?.stop();
});

interface DeregistrationBody {
  id: string;
  status: string;
  counts: Record<string, number>;
  expiresAt?: string;
  completedAt?: string;
  links: { self: string; devices: string };
}
interface DeviceBody {
  serialNumber: string;
  state: string;
  autopilotDeviceId?: string;
  deregisteredAt?: string;
  line?: number;
  error?: { code: string; message?: string };
}

async function post(body: string, contentType: string, headers: Record<string, string> = pipeline.headers, query = ""): Promise<Response> {
  return fetch(`${pipeline.api}/deregistrations${query}`, { method: "POST", headers: { ...headers, "content-type": contentType }, body });
}

async function accepted(response: Response): Promise<string> {
  expect(response.status, await response.clone().text()).toBe(202);
  const { id } = (await response.json()) as { id: string };
  expect(response.headers.get("location")).toBe(`/api/deregistrations/${id}`);
  return id;
}

/** The batch once final and its expiry recorded (the device's last write comes a moment before the batch's expiry). */
async function finalOf(id: string, deadlineMs = 60_000): Promise<DeregistrationBody> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const body = (await (await fetch(`${pipeline.api}/deregistrations/${id}`, { headers: pipeline.headers })).json()) as DeregistrationBody;
    if (body.status !== "running" && body.expiresAt) return body;
    if (Date.now() > deadline) throw new Error(`deregistration ${id} still running: ${JSON.stringify(body)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function devicesOf(id: string): Promise<Map<string, DeviceBody>> {
  const body = (await (
    await fetch(`${pipeline.api}/deregistrations/${id}/devices?pageSize=1000`, { headers: pipeline.headers })
  ).json()) as { value: DeviceBody[] };
  return new Map(body.value.map((d) => [d.serialNumber, d]));
}

const serialsIn = (tenantId: string) => pipeline.simulator.autopilotDevices(tenantId).map((d) => String(d.serialNumber));
const deletes = () =>
  pipeline.simulator.requestLog.filter((r) => r.method === "DELETE" && r.path.includes("/windowsAutopilotDeviceIdentities/"));

describe("POST /api/deregistrations", () => {
  it("deletes each returned device's Autopilot device in the batch's tenant; reports one not registered and one still enrolled, with why; tells the callback", async () => {
    for (const serialNumber of ["RET-1", "RET-2"]) pipeline.simulator.registerDevice(TENANT_A, { serialNumber });
    pipeline.simulator.registerDevice(TENANT_A, { serialNumber: "RET-3", enrollmentState: "enrolled" });
    // The same serial number in another tenant is not this batch's to touch; contains() also lists RET-10.
    pipeline.simulator.registerDevice(TENANT_B, { serialNumber: "RET-1" });
    pipeline.simulator.registerDevice(TENANT_A, { serialNumber: "RET-10" });
    const deletesBefore = deletes().length;

    const id = await accepted(
      await post(
        JSON.stringify({
          tenantId: TENANT_A,
          callbackUrl: receiver.url("/returns"),
          devices: ["RET-1", "RET-2", "RET-3", "RET-404"].map((serialNumber) => ({ serialNumber })),
        }),
        "application/json",
      ),
    );
    const final = await finalOf(id);
    expect(final).toMatchObject({
      status: "partially_succeeded",
      counts: { queued: 0, deregistering: 0, deregistered: 2, not_found: 1, failed: 1 },
    });
    expect(Date.parse(final.expiresAt ?? "") - Date.parse(final.completedAt ?? "")).toBe(30 * 24 * 3600_000);

    const devices = await devicesOf(id);
    for (const serial of ["RET-1", "RET-2"]) {
      expect(devices.get(serial)).toMatchObject({ state: "deregistered", attempts: 1 });
      expect(devices.get(serial)!.autopilotDeviceId).toBeTruthy();
    }
    expect(devices.get("RET-404")).toMatchObject({ state: "not_found", error: { code: "NotFound" } });
    expect(devices.get("RET-3")).toMatchObject({ state: "failed", error: { code: "BadRequest" } });
    expect(devices.get("RET-3")!.error!.message).toMatch(/removed from Intune/);

    // Graph: exactly the two devices are gone from tenant A; B's RET-1 and A's RET-10 and RET-3 stay.
    expect(serialsIn(TENANT_A)).toEqual(expect.arrayContaining(["RET-3", "RET-10"]));
    expect(serialsIn(TENANT_A)).not.toContain("RET-1");
    expect(serialsIn(TENANT_A)).not.toContain("RET-2");
    expect(serialsIn(TENANT_B)).toContain("RET-1");
    expect(deletes().length - deletesBefore).toBe(3);

    // The kinds stay apart: an import route does not know this id, and the list shows it.
    expect((await fetch(`${pipeline.api}/imports/${id}`, { headers: pipeline.headers })).status).toBe(404);
    const list = (await (await fetch(`${pipeline.api}/deregistrations`, { headers: pipeline.headers })).json()) as {
      value: { id: string }[];
    };
    expect(list.value.map((b) => b.id)).toContain(id);

    const deadline = Date.now() + 15_000;
    while (!receiver.received.some((r) => r.path === "/returns") && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 100));
    const hooks = receiver.received.filter((r) => r.path === "/returns");
    expect(hooks).toHaveLength(1);
    expect(hooks[0]!.signatureValid).toBe(true);
    const event = JSON.parse(hooks[0]!.body) as { type: string; data: Record<string, unknown> };
    expect(event).toMatchObject({
      type: "deregistration.completed",
      data: { id, status: "partially_succeeded", counts: { deregistered: 2 } },
    });
  }, 90_000);

  it("takes the Autopilot CSV a batch was imported with (serial numbers only), and a repeated request with its Idempotency-Key deletes nothing twice", async () => {
    pipeline.simulator.registerDevice(TENANT_A, { serialNumber: "CSV-RET-1" });
    const csv = "Device Serial Number,Windows Product ID,Hardware Hash\r\nCSV-RET-1,,AAAA\r\nCSV-RET-2,,\r\n";
    const headers = { ...pipeline.headers, "idempotency-key": "returns-2026-12-06" };
    const first = await accepted(await post(csv, "text/csv", headers, `?tenantId=${TENANT_A}`));
    const again = await post(csv, "text/csv", headers, `?tenantId=${TENANT_A}`);
    expect(again.status).toBe(202);
    expect(((await again.json()) as { id: string }).id).toBe(first);

    expect(await finalOf(first)).toMatchObject({ status: "partially_succeeded", counts: { deregistered: 1, not_found: 1 } });
    const devices = await devicesOf(first);
    expect(devices.get("CSV-RET-1")).toMatchObject({ state: "deregistered", line: 2 });
    expect(devices.get("CSV-RET-2")).toMatchObject({ state: "not_found", line: 3 });
    expect(deletes().filter((r) => r.path.includes(String(devices.get("CSV-RET-1")!.autopilotDeviceId)))).toHaveLength(1);
    // The same key on the imports route is another key: it makes an import batch, not this one.
    const imported = await fetch(`${pipeline.api}/imports`, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body: JSON.stringify({ tenantId: TENANT_A, devices: makeDevices(1, "SCOPE") }),
    });
    expect(imported.status).toBe(202);
    expect(((await imported.json()) as { id: string }).id).not.toBe(first);
  }, 60_000);

  it("refuses a tenant the partner may not act on (403, nothing recorded or deleted), and another partner sees none of the batches", async () => {
    pipeline.simulator.registerDevice(TENANT_A, { serialNumber: "OTHER-1" });
    const other = await addTestPartner(pipeline.services, { tenants: [TENANT_B] });
    const refused = await post(
      JSON.stringify({ tenantId: TENANT_A, devices: [{ serialNumber: "OTHER-1" }] }),
      "application/json",
      other.headers,
    );
    expect(refused.status).toBe(403);
    expect(refused.headers.get("content-type")).toContain("application/problem+json");
    expect(serialsIn(TENANT_A)).toContain("OTHER-1");

    const mine = await accepted(
      await post(JSON.stringify({ tenantId: TENANT_A, devices: [{ serialNumber: "NOPE-1" }] }), "application/json"),
    );
    expect((await fetch(`${pipeline.api}/deregistrations/${mine}`, { headers: other.headers })).status).toBe(404);
    const theirs = (await (await fetch(`${pipeline.api}/deregistrations`, { headers: other.headers })).json()) as { value: unknown[] };
    expect(theirs.value).toHaveLength(0);
    expect(await finalOf(mine)).toMatchObject({ status: "failed", counts: { not_found: 1 } });
  }, 60_000);

  it("answers a bad batch with every problem at once (400) and more than 1,000 devices with 413, recording nothing", async () => {
    const bad = await post(
      JSON.stringify({
        tenantId: TENANT_A,
        devices: [
          { serialNumber: "" },
          { serialNumber: "DUP" },
          { serialNumber: "dup" },
          { serialNumber: "X", hardwareIdentifier: "AAAA" },
        ],
      }),
      "application/json",
    );
    expect(bad.status).toBe(400);
    const problem = (await bad.json()) as { errors: { device?: number; field?: string }[] };
    expect(new Set(problem.errors.map((e) => e.device))).toEqual(new Set([0, 2, 3]));
    const tooMany = await post(
      JSON.stringify({ tenantId: TENANT_A, devices: Array.from({ length: 1_001 }, (_, i) => ({ serialNumber: `MANY-${i}` })) }),
      "application/json",
    );
    expect(tooMany.status).toBe(413);
  });

  it("works through the typed client: create, follow, list the devices", async () => {
    pipeline.simulator.registerDevice(TENANT_A, { serialNumber: "CLIENT-RET-1" });
    const client = createAutopilotImportClient({ baseUrl: new URL(pipeline.api).origin, apiKey: pipeline.partner.apiKey });
    const { batch, replayed } = await client.createDeregistration({ tenantId: TENANT_A, devices: [{ serialNumber: "CLIENT-RET-1" }] });
    expect(replayed).toBe(false);
    const final = await finalOf(batch.id);
    expect(final.status).toBe("succeeded");
    expect((await client.getDeregistration(batch.id)).batch).toMatchObject({
      id: batch.id,
      status: "succeeded",
      counts: { deregistered: 1 },
    });
    const devices = [];
    for await (const device of client.deregistrationDevices(batch.id)) devices.push(device);
    expect(devices).toEqual([expect.objectContaining({ serialNumber: "CLIENT-RET-1", state: "deregistered" })]);
    const listed = [];
    for await (const b of client.deregistrations({ pageSize: 2 })) listed.push(b.id);
    expect(listed).toContain(batch.id);
  }, 60_000);
});
