import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deregisterDevice, failPoisonedDeregistration, type DeregisterDeps } from "../../src/deregistration/deregisterDevice.js";
import { submitDeregistration } from "../../src/deregistration/deregistrationIntake.js";
import type { DeviceMessage } from "../../src/storage/deviceMessage.js";
import type { DeviceMessageSender } from "../../src/storage/deviceQueue.js";
import { startPipeline, TENANT_A, type Pipeline } from "../support/pipeline.js";

/**
 * The deregistration worker on real storage (Azurite) and the simulator, driven message by
 * message: intake's messages are captured here instead of queued, so no host runs them and each
 * test decides what happens to each copy.
 */
let pipeline: Pipeline;

beforeAll(async () => {
  pipeline = await startPipeline();
});
afterAll(async () => pipeline?.stop());

function capture(): DeviceMessageSender & { sent: DeviceMessage[] } {
  const sent: DeviceMessage[] = [];
  return { sent, send: async (message) => void sent.push(message) };
}

function depsWith(queue: DeviceMessageSender, overrides: Partial<DeregisterDeps> = {}): DeregisterDeps {
  const s = pipeline.services;
  return {
    deregistrations: s.deregistrations,
    store: s.store,
    partners: s.partners,
    queue,
    pacing: s.pacing,
    graph: s.graph,
    retry: s.config.retry,
    retentionMs: s.config.batchRetentionMs,
    notify: { notifications: s.webhooks.notifications, queue: s.webhooks.queue, log: s.log },
    log: s.log,
    ...overrides,
  };
}

/** A recorded batch of these serial numbers; its messages, due now (no slot to wait for). */
async function submitted(serials: string[]): Promise<{ batchId: string; messages: DeviceMessage[] }> {
  const s = pipeline.services;
  const queue = capture();
  const batchId = await submitDeregistration(
    { store: s.store, deregistrations: s.deregistrations, journal: s.journal, queue, pacing: s.pacing, enqueueConcurrency: 4, log: s.log },
    { tenantId: TENANT_A, partnerId: pipeline.partner.partnerId, devices: serials.map((serialNumber) => ({ serialNumber })) },
    "json",
  );
  const messages = queue.sent.map(({ slotAt: _slot, shiftAt: _shift, ...message }) => message);
  expect(messages.map((m) => m.kind)).toEqual(serials.map(() => "deregister"));
  return { batchId, messages };
}

const deletesOf = (id: string) =>
  pipeline.simulator.requestLog.filter((r) => r.method === "DELETE" && r.path.endsWith(`/windowsAutopilotDeviceIdentities/${id}`));
const autopilotIdOf = (serial: string) =>
  String(pipeline.simulator.autopilotDevices(TENANT_A).find((d) => d.serialNumber === serial)?.id ?? "");

describe("deregisterDevice", () => {
  it("a host killed after the delete and before the outcome: the message again records it deregistered, with one delete", async () => {
    pipeline.simulator.registerDevice(TENANT_A, { serialNumber: "CRASH-1" });
    const autopilotId = autopilotIdOf("CRASH-1");
    const { batchId, messages } = await submitted(["CRASH-1"]);
    const graph = pipeline.services.graph;
    const dying = depsWith(capture(), {
      graph: {
        walkAutopilotDevices: graph.walkAutopilotDevices.bind(graph),
        deleteAutopilotDevice: async (tenantId, id) => {
          await graph.deleteAutopilotDevice(tenantId, id);
          throw new Error("host died");
        },
      },
    });
    await expect(deregisterDevice(dying, messages[0]!)).rejects.toThrow("host died");
    expect(await pipeline.services.deregistrations.readDevice(batchId, messages[0]!.rowKey)).toMatchObject({
      state: "deregistering",
      autopilotDeviceId: autopilotId,
    });

    expect(await deregisterDevice(depsWith(capture()), messages[0]!)).toBe("deregistered");
    expect(await pipeline.services.deregistrations.readDevice(batchId, messages[0]!.rowKey)).toMatchObject({
      state: "deregistered",
      autopilotDeviceId: autopilotId,
    });
    expect(deletesOf(autopilotId)).toHaveLength(1);
    // A third copy changes nothing.
    expect(await deregisterDevice(depsWith(capture()), messages[0]!)).toBe("stale");
    expect(deletesOf(autopilotId)).toHaveLength(1);
  });

  it("two copies of a message at once: one claims the device and deletes it, the other stands down", async () => {
    pipeline.simulator.registerDevice(TENANT_A, { serialNumber: "TWICE-1" });
    const autopilotId = autopilotIdOf("TWICE-1");
    const { messages } = await submitted(["TWICE-1"]);
    const outcomes = await Promise.all([
      deregisterDevice(depsWith(capture()), messages[0]!),
      deregisterDevice(depsWith(capture()), messages[0]!),
    ]);
    expect(outcomes.sort()).toEqual(["deregistered", "stale"]);
    expect(deletesOf(autopilotId)).toHaveLength(1);
  });

  it("a partner that lost the tenant after intake: nothing is looked up or deleted, the device fails saying why", async () => {
    pipeline.simulator.registerDevice(TENANT_A, { serialNumber: "LOST-1" });
    const { batchId, messages } = await submitted(["LOST-1"]);
    const requestsBefore = pipeline.simulator.requestLog.length;
    const deps = depsWith(capture(), {
      partners: { getPartner: async (partnerId) => ({ partnerId, tenants: ["someone-else.onmicrosoft.com"], appIds: [], createdAt: "" }) },
    });
    expect(await deregisterDevice(deps, messages[0]!)).toBe("failed");
    expect(await pipeline.services.deregistrations.readDevice(batchId, messages[0]!.rowKey)).toMatchObject({
      state: "failed",
      errorCode: "TenantNotAllowed",
    });
    expect(pipeline.simulator.requestLog.length).toBe(requestsBefore);
    expect(pipeline.simulator.autopilotDevices(TENANT_A).some((d) => d.serialNumber === "LOST-1")).toBe(true);
    expect((await pipeline.services.deregistrations.readSummary(batchId))?.batch.expiresAt).toBeTruthy();
  });

  it("a transient failure is tried again at a later slot; a poisoned message fails its device and finishes the batch", async () => {
    pipeline.simulator.registerDevice(TENANT_A, { serialNumber: "FLAKY-1" });
    const { batchId, messages } = await submitted(["FLAKY-1"]);
    const graph = pipeline.services.graph;
    const queue = capture();
    const failing = depsWith(queue, {
      graph: {
        walkAutopilotDevices: async () => ({ kind: "http-error", status: 503 }),
        deleteAutopilotDevice: graph.deleteAutopilotDevice.bind(graph),
      },
    });
    expect(await deregisterDevice(failing, messages[0]!)).toBe("retry-scheduled");
    expect(queue.sent).toEqual([expect.objectContaining({ kind: "deregister", rowKey: messages[0]!.rowKey, attempt: 2 })]);
    expect(await pipeline.services.deregistrations.readDevice(batchId, messages[0]!.rowKey)).toMatchObject({
      state: "deregistering",
      attempts: 1,
      errorCode: "HTTP503",
    });

    expect(await failPoisonedDeregistration(depsWith(capture()), queue.sent[0]!, 5)).toBe("failed");
    const summary = await pipeline.services.deregistrations.readSummary(batchId);
    expect(summary?.counts).toMatchObject({ failed: 1, deregistering: 0 });
    expect(summary?.batch.expiresAt).toBeTruthy();
    // Its next attempt, arriving late, finds it final.
    expect(await deregisterDevice(depsWith(capture()), queue.sent[0]!)).toBe("stale");
  });
});
