import { describe, expect, it } from "vitest";
import { syntheticHash } from "../../../src/dev/simulator/syntheticHash.js";
import { isTargeted, parseSerialFilter, profileStatusAt } from "../../../src/dev/simulator/autopilotDevices.js";
import { device, OBSERVED_LIST_LAG_MS, TENANT_A, TENANT_B, GraphCaller, useSimulatorPerTest, walk } from "./simulatorHarness.js";

// The simulated windowsAutopilotDeviceIdentities collection (facts sheet, "After the import:
// the Autopilot device"): it appears when an import completes, is found by contains(serialNumber),
// takes updateDeviceProperties, follows a profile to assignedInSync when one targets its group
// tag, and refuses to delete an enrolled device.

const AUTOPILOT = "/beta/deviceManagement/windowsAutopilotDeviceIdentities";
const IMPORTED = "/v1.0/deviceManagement/importedWindowsAutopilotDeviceIdentities";
const setup = useSimulatorPerTest({ settleDelayMs: 2_000, profileAssignDelayMs: 10_000 });

interface AutopilotJson {
  id: string;
  serialNumber: string;
  groupTag: string;
  userPrincipalName: string;
  enrollmentState: string;
  deploymentProfileAssignmentStatus?: string;
  deploymentProfileAssignedDateTime?: string;
}

async function listBySerial(a: GraphCaller, contains: string): Promise<AutopilotJson[]> {
  const res = await a.request("GET", `${AUTOPILOT}?$filter=${encodeURIComponent(`contains(serialNumber,'${contains}')`)}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { value: AutopilotJson[] }).value;
}

async function getAutopilot(a: GraphCaller, id: string, version = "beta"): Promise<AutopilotJson> {
  const res = await a.request("GET", `/${version}/deviceManagement/windowsAutopilotDeviceIdentities/${id}`);
  expect(res.status).toBe(200);
  return (await res.json()) as AutopilotJson;
}

describe("pure rules", () => {
  it("profile status: notAssigned until targeted, pending for the delay, then assignedInSync at targetedAt + delay", () => {
    expect(profileStatusAt({ targetedAt: undefined, assignedAt: undefined }, 100, 10)).toEqual({ status: "notAssigned" });
    expect(profileStatusAt({ targetedAt: 100, assignedAt: undefined }, 109, 10)).toEqual({ status: "pending" });
    expect(profileStatusAt({ targetedAt: 100, assignedAt: undefined }, 110, 10)).toEqual({ status: "assignedInSync", assignedAt: 110 });
    expect(profileStatusAt({ targetedAt: undefined, assignedAt: 50 }, 60, 10)).toEqual({ status: "assignedInSync", assignedAt: 50 });
  });

  it("targets match the group tag ignoring case and spaces; no group tag targets every device", () => {
    expect(isTargeted([{ groupTag: "Sales" }], " sales ")).toBe(true);
    expect(isTargeted([{ groupTag: "Sales" }], "Lab")).toBe(false);
    expect(isTargeted([{}], "")).toBe(true);
    expect(isTargeted([], "Sales")).toBe(false);
  });

  it("only contains(serialNumber,'…') is a filter; equality is refused", () => {
    expect(parseSerialFilter("contains(serialNumber,'PF3')")).toEqual({ ok: true, contains: "PF3" });
    expect(parseSerialFilter(" contains( serialnumber , 'O''BRIEN' ) ")).toEqual({ ok: true, contains: "O'BRIEN" });
    expect(parseSerialFilter("serialNumber eq 'PF3'").ok).toBe(false);
    expect(parseSerialFilter("contains(groupTag,'x')").ok).toBe(false);
  });
});

describe("the Autopilot device collection", () => {
  it("a device appears when its import completes, under the import's deviceRegistrationId, found by contains(serialNumber)", async () => {
    const { a, clock } = await setup();
    const created = await a.createOk(device({ serialNumber: "PF3AP001", groupTag: "Sales" }));
    expect(await listBySerial(a, "PF3AP")).toEqual([]);
    clock.advance(2_000);
    const registrationId = (await a.getOk(created.id)).state.deviceRegistrationId;
    expect(registrationId).not.toBe("");
    expect((await getAutopilot(a, registrationId)).serialNumber).toBe("PF3AP001");
    // Lists lag as the imported collection's do.
    expect(await listBySerial(a, "PF3AP")).toEqual([]);
    clock.advance(OBSERVED_LIST_LAG_MS);
    const found = await listBySerial(a, "pf3ap");
    expect(found.map((d) => d.id)).toEqual([registrationId]);
    expect(found[0]).toMatchObject({ groupTag: "Sales", deploymentProfileAssignmentStatus: "notAssigned" });
    expect(await listBySerial(a, "NOPE")).toEqual([]);
  });

  it("an import that fails creates no Autopilot device; equality filters are refused with 400", async () => {
    const { a, clock, sim } = await setup();
    sim.registerDevice(TENANT_B, { serialNumber: "OTHER-1" });
    await a.createOk(device({ serialNumber: "OTHER-1" }));
    clock.advance(2_000 + OBSERVED_LIST_LAG_MS);
    expect(await listBySerial(a, "OTHER")).toEqual([]);
    expect(sim.autopilotDevices(TENANT_B)).toHaveLength(1);
    const eq = await a.request("GET", `${AUTOPILOT}?$filter=${encodeURIComponent("serialNumber eq 'OTHER-1'")}`);
    expect(eq.status).toBe(400);
  });

  it("moves notAssigned → pending → assignedInSync after the delay once a profile targets its group tag; others never get one", async () => {
    const { a, clock, sim } = await setup();
    sim.registerDevice(TENANT_A, { serialNumber: "TAGGED-1", groupTag: "Sales" });
    sim.registerDevice(TENANT_A, { serialNumber: "UNTAGGED-1", groupTag: "Lab" });
    const [tagged] = await listBySerial(a, "TAGGED-1");
    const [untagged] = await listBySerial(a, "UNTAGGED-1");
    expect(tagged!.deploymentProfileAssignmentStatus).toBe("notAssigned");
    sim.targetProfile(TENANT_A, { groupTag: "sales" });
    expect((await getAutopilot(a, tagged!.id)).deploymentProfileAssignmentStatus).toBe("pending");
    clock.advance(9_999);
    expect((await getAutopilot(a, tagged!.id)).deploymentProfileAssignmentStatus).toBe("pending");
    const assignedAt = clock.t + 1;
    clock.advance(1);
    expect(await getAutopilot(a, tagged!.id)).toMatchObject({
      deploymentProfileAssignmentStatus: "assignedInSync",
      deploymentProfileAssignedDateTime: new Date(assignedAt).toISOString(),
    });
    clock.advance(3_600_000);
    expect((await getAutopilot(a, untagged!.id)).deploymentProfileAssignmentStatus).toBe("notAssigned");
    // v1.0 has no profile assignment properties.
    expect(await getAutopilot(a, tagged!.id, "v1.0")).not.toHaveProperty("deploymentProfileAssignmentStatus");
  });

  it("a device imported with a targeted group tag is pending from its registration", async () => {
    const { a, clock, sim } = await setup();
    sim.targetProfile(TENANT_A, { groupTag: "Sales" });
    const created = await a.createOk(device({ groupTag: "Sales" }));
    clock.advance(2_000);
    const id = (await a.getOk(created.id)).state.deviceRegistrationId;
    expect((await getAutopilot(a, id)).deploymentProfileAssignmentStatus).toBe("pending");
    clock.advance(10_000);
    expect((await getAutopilot(a, id)).deploymentProfileAssignmentStatus).toBe("assignedInSync");
  });

  it("updateDeviceProperties sets group tag and user (204), and a newly targeted tag starts the assignment", async () => {
    const { a, clock, sim } = await setup();
    sim.targetProfile(TENANT_A, { groupTag: "Sales" });
    sim.registerDevice(TENANT_A, { serialNumber: "EXISTING-1", groupTag: "Old" });
    const [existing] = await listBySerial(a, "EXISTING-1");
    expect(existing!.deploymentProfileAssignmentStatus).toBe("notAssigned");
    const res = await a.request("POST", `${AUTOPILOT}/${existing!.id}/updateDeviceProperties`, {
      groupTag: "Sales",
      userPrincipalName: "user@contoso.com",
    });
    expect(res.status).toBe(204);
    expect(await getAutopilot(a, existing!.id)).toMatchObject({
      groupTag: "Sales",
      userPrincipalName: "user@contoso.com",
      deploymentProfileAssignmentStatus: "pending",
    });
    clock.advance(10_000);
    expect((await getAutopilot(a, existing!.id)).deploymentProfileAssignmentStatus).toBe("assignedInSync");
    expect((await a.request("POST", `${AUTOPILOT}/${existing!.id}/updateDeviceProperties`, { colour: "red" })).status).toBe(400);
    expect((await a.request("POST", `${AUTOPILOT}/not-an-id/updateDeviceProperties`, { groupTag: "x" })).status).toBe(404);
  });

  it("DELETE is refused while the device is enrolled; once deleted the device may be imported again", async () => {
    const { a, clock, sim } = await setup();
    // A readable hash of this serial number (the simulator reads hashes as Intune does).
    const hash = syntheticHash({ serialNumber: "RETURNED-1", seed: 1 });
    sim.registerDevice(TENANT_A, { serialNumber: "RETURNED-1", hardwareIdentifier: hash, enrollmentState: "enrolled" });
    const [enrolled] = await listBySerial(a, "RETURNED-1");
    expect((await a.request("DELETE", `${AUTOPILOT}/${enrolled!.id}`)).status).toBe(400);
    sim.setEnrollmentState(TENANT_A, "RETURNED-1", "notContacted");
    expect((await a.request("DELETE", `${AUTOPILOT}/${enrolled!.id}`)).status).toBe(204);
    expect((await a.request("DELETE", `${AUTOPILOT}/${enrolled!.id}`)).status).toBe(404);
    const again = await a.createOk({ serialNumber: "RETURNED-1", hardwareIdentifier: hash });
    clock.advance(2_000);
    expect((await a.getOk(again.id)).state.deviceImportStatus).toBe("complete");
  });

  it("beta deleteDevices answers a deletionState per serial; v1.0 has no such action", async () => {
    const { a, sim } = await setup();
    sim.registerDevice(TENANT_A, { serialNumber: "BULK-1" });
    sim.registerDevice(TENANT_A, { serialNumber: "BULK-2", enrollmentState: "enrolled" });
    const res = await a.request("POST", `${AUTOPILOT}/deleteDevices`, { serialNumbers: ["BULK-1", "BULK-2", "BULK-404"] });
    expect(res.status).toBe(200);
    const states = ((await res.json()) as { value: { serialNumber: string; deletionState: string }[] }).value;
    expect(states.map((s) => [s.serialNumber, s.deletionState])).toEqual([
      ["BULK-1", "accepted"],
      ["BULK-2", "failed"],
      ["BULK-404", "failed"],
    ]);
    expect(sim.autopilotDevices(TENANT_A).map((d) => d.serialNumber)).toEqual(["BULK-2"]);
    expect(
      (await a.request("POST", "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities/deleteDevices", { serialNumbers: [] })).status,
    ).toBe(400);
  });

  it("pages the collection and repeats its last nextLink, as observed on this collection (microsoft-graph-docs #8186)", async () => {
    const { a, sim } = await setup({ pageSize: 2 });
    for (let i = 0; i < 5; i++) sim.registerDevice(TENANT_A, { serialNumber: `PAGE-${i}` });
    const walked = await walk(a, `${AUTOPILOT}?$filter=${encodeURIComponent("contains(serialNumber,'PAGE')")}`);
    expect(walked.seen).toHaveLength(5);
    expect(walked.repeatedLink).toBeDefined();
    expect(new Set(walked.seen).size).toBe(5);
    // The imported collection is untouched by registrations.
    expect((await (await a.request("GET", IMPORTED)).json()).value).toEqual([]);
  });
});
