import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allDevices, startPipeline, TENANT_A, TENANT_B, waitForBatch, type Pipeline } from "../support/pipeline.js";
import { makeDevices } from "../support/devices.js";

/**
 * After the import, through the whole pipeline (Azurite, the simulator, the development host):
 * a batch followed until its devices have a deployment profile, where some never get one; and
 * devices already registered (806) reconciled with onExisting "update", while 808 still fails.
 * The simulator assigns a profile 300 ms after one targets a device's group tag; the pipeline
 * gives up on a profile 2.5 s after the import.
 */
let pipeline: Pipeline;

beforeAll(async () => {
  pipeline = await startPipeline({
    simulator: { profileAssignDelayMs: 300 },
    env: { PROFILE_ASSIGN_TIMEOUT_MS: "2500", FOLLOW_UP_MAX_DELAY_MS: "1000" },
  });
});
afterAll(async () => pipeline?.stop());

async function post(body: unknown): Promise<string> {
  const response = await fetch(`${pipeline.api}/imports`, {
    method: "POST",
    headers: { ...pipeline.headers, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(response.status, await response.clone().text()).toBe(202);
  return ((await response.json()) as { id: string }).id;
}

const autopilotReads = () =>
  pipeline.simulator.requestLog.filter((r) => r.method === "GET" && r.path.includes("/windowsAutopilotDeviceIdentities"));

describe("followUntil profileAssigned", () => {
  it("follows each imported device to its profile; devices no profile targets end 'imported, no profile assigned' after the limit", async () => {
    pipeline.simulator.targetProfile(TENANT_A, { groupTag: "Ready" });
    const ready = makeDevices(6, "PF3READY").map((d) => ({ ...d, groupTag: "Ready" }));
    const never = makeDevices(3, "PF3NEVER").map((d) => ({ ...d, groupTag: "Nobody" }));
    const readsBefore = autopilotReads().length;
    const id = await post({ tenantId: TENANT_A, followUntil: "profileAssigned", devices: [...ready, ...never] });

    const final = await waitForBatch(pipeline, id, 60_000);
    expect(final).toMatchObject({
      status: "partially_succeeded",
      followUntil: "profileAssigned",
      counts: { imported: 9, failed: 0 },
      profiles: { waiting: 0, assigned: 6, notAssigned: 3 },
    });

    const devices = await allDevices(pipeline, id);
    for (const d of devices.filter((d) => d.serialNumber.startsWith("PF3READY"))) {
      expect(d, d.serialNumber).toMatchObject({
        state: "imported",
        profileStatus: "assigned",
        deploymentProfileAssignmentStatus: "assignedInSync",
      });
      expect(d.autopilotDeviceId).toBe(d.deviceRegistrationId);
      expect(Date.parse(String(d.profileAssignedAt))).toBeGreaterThan(0);
    }
    const notReady = await allDevices(pipeline, id, "profileStatus=notAssigned");
    expect(notReady.map((d) => d.serialNumber).sort()).toEqual(never.map((d) => d.serialNumber).sort());
    for (const d of notReady) {
      expect(d).toMatchObject({ state: "imported", deploymentProfileAssignmentStatus: "notAssigned" });
      expect((d.notes as { code: string; message: string }[])[0]).toMatchObject({ code: "NoProfileAssigned" });
      expect((d.notes as { message: string }[])[0]!.message).toContain("group tag 'Nobody'");
    }

    // Reads come in poll rounds, one filtered list per shared serial prefix: never one per device per round.
    // Through the import action (the default mode): the devices went to Intune in one request.
    expect(
      pipeline.simulator.requestLog.filter(
        (r) => r.method === "POST" && r.path.endsWith("/importedWindowsAutopilotDeviceIdentities/import"),
      ).length,
    ).toBeGreaterThan(0);
    const reads = autopilotReads().slice(readsBefore);
    const rounds = new Set(reads.map((r) => Math.floor(r.at / 250))).size;
    expect(reads.every((r) => decodeURIComponent(r.path).includes("contains(serialNumber,'PF3"))).toBe(true);
    const header = await pipeline.services.store.readBatch(id);
    expect(reads.length).toBeLessThanOrEqual(2 * (header?.pollAttempt ?? 0));
    expect(reads.length).toBeLessThan(9 * rounds);
  }, 90_000);

  it("a batch without followUntil ends at the import, with no profile reads and no profile counts", async () => {
    const readsBefore = autopilotReads().length;
    const id = await post({ tenantId: TENANT_A, devices: makeDevices(2, "PLAIN") });
    const final = await waitForBatch(pipeline, id);
    expect(final).toMatchObject({ status: "succeeded", followUntil: "imported", onExisting: "fail" });
    expect(final).not.toHaveProperty("profiles");
    expect(autopilotReads().length).toBe(readsBefore);
  });
});

describe("onExisting update", () => {
  it("applies the batch's group tag and user to an already-registered device (806), which ends imported with a note; 808 still fails", async () => {
    const [existing, otherTenant, fresh] = makeDevices(3, "RECON");
    pipeline.simulator.registerDevice(TENANT_A, { serialNumber: existing!.serialNumber, groupTag: "OldTag" });
    pipeline.simulator.registerDevice(TENANT_B, { serialNumber: otherTenant!.serialNumber });
    const id = await post({
      tenantId: TENANT_A,
      groupTag: "NewTag",
      onExisting: "update",
      devices: [{ ...existing, assignedUserPrincipalName: "kim@contoso.com" }, otherTenant, fresh],
    });
    const final = await waitForBatch(pipeline, id, 60_000);
    expect(final).toMatchObject({ status: "partially_succeeded", onExisting: "update", counts: { imported: 2, failed: 1 } });

    const bySerial = new Map((await allDevices(pipeline, id)).map((d) => [d.serialNumber, d]));
    const reconciled = bySerial.get(existing!.serialNumber)!;
    expect(reconciled).toMatchObject({ state: "imported", importStatus: "error" });
    expect(reconciled.error).toBeUndefined();
    expect(reconciled.notes).toEqual([
      { code: "AlreadyRegisteredUpdated", message: expect.stringContaining("group tag and assigned user were applied") },
    ]);
    const registered = pipeline.simulator.autopilotDevices(TENANT_A).find((d) => d.serialNumber === existing!.serialNumber)!;
    expect(registered).toMatchObject({ groupTag: "NewTag", userPrincipalName: "kim@contoso.com" });
    expect(reconciled.autopilotDeviceId).toBe(registered.id);
    // The UPN is never shown back.
    expect(JSON.stringify(reconciled)).not.toContain("kim@contoso.com");

    expect(bySerial.get(otherTenant!.serialNumber)).toMatchObject({
      state: "failed",
      error: { code: "808", name: "ZtdDeviceAssignedToOtherTenant" },
    });
    expect(bySerial.get(fresh!.serialNumber)).toMatchObject({ state: "imported", importStatus: "complete" });
    // The update was one write in the tenant's budget.
    expect(pipeline.simulator.requestLog.filter((r) => r.method === "POST" && r.path.includes("updateDeviceProperties"))).toHaveLength(1);
  }, 60_000);

  it("without onExisting, 806 is still a failure", async () => {
    const [existing] = makeDevices(1, "STILL806");
    pipeline.simulator.registerDevice(TENANT_A, { serialNumber: existing!.serialNumber });
    const id = await post({ tenantId: TENANT_A, devices: [existing] });
    const final = await waitForBatch(pipeline, id);
    expect(final).toMatchObject({ status: "failed", counts: { failed: 1 } });
    expect((await allDevices(pipeline, id))[0]).toMatchObject({ error: { code: "806" } });
  });
});
