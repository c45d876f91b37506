import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allDevices, startPipeline, TENANT_A, waitForBatch, type Pipeline } from "../support/pipeline.js";
import { queuedMessages } from "../support/queuedMessages.js";
import { makeCsv, makeDevices, hashFor } from "../support/devices.js";

/**
 * The whole pipeline, as `npm start` runs it: the development host serving the app's function
 * definitions, real Azurite, and the Graph simulator with Intune's throttle shrunk to a 2-second
 * window so a 200-device batch is throttled for real.
 */
const OTHER_TENANT = "cccccccc-0000-4000-8000-00000000000c";
let pipeline: Pipeline;

beforeAll(async () => {
  pipeline = await startPipeline({
    simulator: { settleDelayMs: 300, throttle: { windowMs: 2_000, perAppPerTenant: 100, perTenant: 200 } },
    // The pipeline believes in a budget ten times what the simulator grants, as if another app
    // were spending the tenant's: it must meet 429s and absorb them.
    env: { RETRY_MAX_ATTEMPTS: "10", PACING_WINDOW_MS: "2000", PACING_WRITES_PER_WINDOW: "1000" },
    // The chunks' followers are run by their timer, as under the Functions host.
    timers: ["drainFollowers"],
  });
});
afterAll(async () => pipeline?.stop());

describe("a mixed 200-device CSV batch", () => {
  it("ends with exactly the rejected devices failed, with their codes, and every other device imported", async () => {
    const devices = makeDevices(200, "E2E");
    const alreadyHere = devices.slice(10, 15);
    const inOtherTenant = devices.slice(50, 55);
    const badHash = devices.slice(100, 105);
    alreadyHere.forEach((d) => pipeline.simulator.registerDevice(TENANT_A, { serialNumber: d.serialNumber }));
    inOtherTenant.forEach((d) => pipeline.simulator.registerDevice(OTHER_TENANT, { hardwareIdentifier: d.hardwareIdentifier }));
    badHash.forEach((d) => pipeline.simulator.rejectHash(d.hardwareIdentifier));
    // One device meets a server error once: it must be retried, not failed.
    pipeline.simulator.injectFaults({ kind: "status", status: 503, times: 1, match: { serialNumber: devices[150]!.serialNumber } });
    // And one is throttled once, whether or not the pacing ever lets Graph throttle on its own.
    pipeline.simulator.injectFaults({
      kind: "status",
      status: 429,
      retryAfterSeconds: 1,
      times: 1,
      match: { serialNumber: devices[160]!.serialNumber },
    });

    const response = await fetch(`${pipeline.api}/imports?tenantId=${TENANT_A}&groupTag=E2E`, {
      method: "POST",
      headers: { ...pipeline.headers, "content-type": "text/csv" },
      body: makeCsv(devices, { encoding: "utf16le", quoted: true, trailingBlankLines: 2 }),
    });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };

    const final = await waitForBatch(pipeline, id, 120_000);
    expect(final.status).toBe("partially_succeeded");
    expect(final.counts).toEqual({ queued: 0, retrying: 0, submitted: 0, imported: 185, failed: 15, canceled: 0 });

    const outcomes = await allDevices(pipeline, id);
    expect(outcomes).toHaveLength(200);
    const bySerial = new Map(outcomes.map((o) => [o.serialNumber, o]));
    const expectFailed = (list: typeof devices, code: string, name: string) => {
      for (const d of list) expect(bySerial.get(d.serialNumber), d.serialNumber).toMatchObject({ state: "failed", error: { code, name } });
    };
    expectFailed(alreadyHere, "806", "ZtdDeviceAlreadyAssigned");
    expectFailed(inOtherTenant, "808", "ZtdDeviceAssignedToOtherTenant");
    expectFailed(badHash, "802", "InvalidZtdHardwareHash");
    const rejected = new Set([...alreadyHere, ...inOtherTenant, ...badHash].map((d) => d.serialNumber));
    for (const o of outcomes.filter((o) => !rejected.has(o.serialNumber))) {
      expect(o, o.serialNumber).toMatchObject({ state: "imported", importStatus: "complete" });
      expect(o.deviceRegistrationId).toBeTruthy();
    }
    for (const o of outcomes.filter((o) => o.state === "failed")) expect(o.error?.message).toBeTruthy();

    // Throttling really happened, and was absorbed by retries.
    const throttled = pipeline.simulator.requestLog.filter((r) => r.status === 429 && r.method === "POST");
    expect(throttled.length).toBeGreaterThan(0);
    expect(outcomes.filter((o) => o.state === "imported" && o.attempts > 1).length).toBeGreaterThan(0);
    // The 503 cost it one attempt at least; a 429 from the throttling above may have cost another.
    const retried = bySerial.get(devices[150]!.serialNumber);
    expect(retried).toMatchObject({ state: "imported" });
    expect(retried!.attempts).toBeGreaterThanOrEqual(2);

    // Graph holds exactly one create per device: none lost, none twice.
    const creates = pipeline.simulator.creates.filter((c) => c.tenantId === TENANT_A);
    const createdSerials = creates.map((c) => c.serialNumber).filter((s) => s.startsWith("E2E-"));
    expect(createdSerials.length).toBe(200);
    expect(new Set(createdSerials).size).toBe(200);

    // The per-device states and the batch counters agree.
    const tally: Record<string, number> = {};
    for (const o of outcomes) tally[o.state] = (tally[o.state] ?? 0) + 1;
    expect(tally).toEqual({ imported: 185, failed: 15 });

    // Nothing left behind in the queues: the chunks' followers come 3 budget windows (6 s here)
    // after their slots into their own queue, where the drainFollowers timer (every 5 s) finds
    // their devices taken and drops them.
    const drainedBy = Date.now() + 30_000;
    let left = await queuedMessages(pipeline.services.storage);
    while (left > 0 && Date.now() < drainedBy) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      left = await queuedMessages(pipeline.services.storage);
    }
    expect(left).toBe(0);
    const poison = await pipeline.services.storage.poisonQueue.getProperties();
    expect(poison.approximateMessagesCount).toBe(0);
  });
});

describe("logs", () => {
  it("never carry a hash, product key, user principal name or token", async () => {
    const device = {
      serialNumber: "LOG-1",
      hardwareIdentifier: hashFor("LOG-1", 31),
      productKey: "LOG-PKEY-777",
      assignedUserPrincipalName: "log.user@contoso.com",
    };
    pipeline.simulator.injectFaults({ kind: "status", status: 400, times: 1, match: { serialNumber: "LOG-1" } });
    const response = await fetch(`${pipeline.api}/imports`, {
      method: "POST",
      headers: { ...pipeline.headers, "content-type": "application/json" },
      body: JSON.stringify({ devices: [device] }),
    });
    const { id } = (await response.json()) as { id: string };
    await waitForBatch(pipeline, id);
    const text = JSON.stringify(pipeline.logs);
    expect(text).toContain(id);
    expect(text).not.toContain(device.hardwareIdentifier.slice(0, 24));
    expect(text).not.toContain("LOG-PKEY");
    expect(text).not.toContain("log.user");
    expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/); // no JWT
  });
});
