import { describe, expect, it } from "vitest";
import { decideProfile, importedFollow, matchAutopilotDevice, planProfileReads } from "../../src/worker/profileFollow.js";
import { pickExisting, propertiesToApply, updatesExisting } from "../../src/worker/updateExisting.js";
import { batchStatus } from "../../src/model/batchStatus.js";
import { moveShardCounts } from "../../src/storage/counterShards.js";
import { emptyShardCounts, readNotes } from "../../src/storage/importEntities.js";

const HOUR = 3_600_000;
const imported = { importedAt: new Date(0).toISOString(), updatedAt: new Date(0).toISOString(), groupTag: "Sales" };

describe("planProfileReads: one filtered list per shared serial prefix, never one per device", () => {
  it("groups an order's serials under their shared prefix", () => {
    expect(planProfileReads(["PF3ABC01", "PF3ABC02", "pf3abc10"])).toEqual({ kind: "filtered", contains: ["PF3ABC"] });
  });
  it("keeps separate prefixes apart, up to the list cap, then walks the collection", () => {
    expect(planProfileReads(["AAAA1", "AAAA2", "BBBB1", "BBBB2"])).toEqual({ kind: "filtered", contains: ["AAAA", "BBBB"] });
    expect(planProfileReads(["A1", "B1", "C1", "D1", "E1"], 4)).toEqual({ kind: "all" });
    expect(planProfileReads([])).toEqual({ kind: "none" });
  });
  it("a thousand devices of one order cost one list per round", () => {
    const serials = Array.from({ length: 1000 }, (_, i) => `5CG${String(i).padStart(6, "0")}`);
    expect(planProfileReads(serials)).toEqual({ kind: "filtered", contains: ["5CG000"] });
  });
});

describe("decideProfile", () => {
  const found = (status: string, at = "0001-01-01T00:00:00Z") => ({
    id: "ap-1",
    serialNumber: "S1",
    deploymentProfileAssignmentStatus: status as never,
    deploymentProfileAssignedDateTime: at,
  });
  it("a status beginning with 'assigned' is ready, with Intune's time", () => {
    expect(decideProfile(imported, found("assignedInSync", "2026-01-01T00:00:00Z"), 1, HOUR)).toEqual({
      autopilotDeviceId: "ap-1",
      profileStatus: "assignedInSync",
      profileState: "assigned",
      profileAssignedAt: "2026-01-01T00:00:00.000Z",
    });
    expect(decideProfile(imported, found("assignedUnkownSyncState"), 1, HOUR)?.profileState).toBe("assigned");
  });
  it("records a new status while waiting, and nothing when nothing changed", () => {
    expect(decideProfile(imported, found("pending"), 1, HOUR)).toEqual({
      autopilotDeviceId: "ap-1",
      profileStatus: "pending",
      profileState: "waiting",
    });
    expect(decideProfile({ ...imported, autopilotDeviceId: "ap-1", profileStatus: "pending" }, found("pending"), 1, HOUR)).toBeUndefined();
    expect(decideProfile(imported, undefined, HOUR - 1, HOUR)).toBeUndefined();
  });
  it("ends the wait at the limit, saying why it usually happens; at once on Intune's 'failed'", () => {
    const late = decideProfile(imported, found("notAssigned"), HOUR, HOUR)!;
    expect(late.profileState).toBe("notAssigned");
    expect(readNotes(late)[0]!.message).toMatch(
      /1 h after the import its Autopilot device still said 'notAssigned'.*no Autopilot deployment profile targets this group tag 'Sales'/,
    );
    expect(readNotes(decideProfile(imported, undefined, HOUR, HOUR)!)[0]!.message).toContain("was not found");
    expect(decideProfile(imported, found("failed"), 1, HOUR)?.profileState).toBe("notAssigned");
  });
  it("matches a device by its registration id, else by its only serial-number match", () => {
    const listed = [
      { id: "x", serialNumber: "S1" },
      { id: "y", serialNumber: "s2" },
    ];
    expect(matchAutopilotDevice({ deviceRegistrationId: "x", serialNumber: "zzz" }, listed)?.id).toBe("x");
    expect(matchAutopilotDevice({ serialNumber: " S2 " }, listed)?.id).toBe("y");
    expect(matchAutopilotDevice({ serialNumber: "S1" }, [...listed, { id: "z", serialNumber: "S1" }])).toBeUndefined();
  });
  it("an imported device of a followed batch starts waiting", () => {
    expect(importedFollow({ followUntil: "profileAssigned" }, "t")).toEqual({ importedAt: "t", profileState: "waiting" });
    expect(importedFollow({}, "t")).toEqual({ importedAt: "t" });
  });
});

describe("onExisting update rules", () => {
  it("takes over 806 only, and only when asked", () => {
    expect(updatesExisting({ onExisting: "update" }, 806)).toBe(true);
    expect(updatesExisting({ onExisting: "update" }, 808)).toBe(false);
    expect(updatesExisting({}, 806)).toBe(false);
  });
  it("applies the group tag and user the device has", () => {
    expect(propertiesToApply({ groupTag: "G", assignedUserPrincipalName: "u@c.com" })).toEqual({
      groupTag: "G",
      userPrincipalName: "u@c.com",
    });
    expect(propertiesToApply({})).toBeUndefined();
  });
  it("needs exactly one Autopilot device with the serial number", () => {
    expect(
      pickExisting("S1", [
        { id: "a", serialNumber: "S10" },
        { id: "b", serialNumber: "s1" },
      ]),
    ).toEqual({ kind: "one", device: { id: "b", serialNumber: "s1" } });
    expect(pickExisting("S1", [{ id: "a", serialNumber: "S10" }]).kind).toBe("none");
    expect(
      pickExisting("S1", [
        { id: "a", serialNumber: "S1" },
        { id: "b", serialNumber: "S1" },
      ]),
    ).toEqual({ kind: "several", ids: ["a", "b"] });
  });
});

describe("counts and status of a batch followed to its profiles", () => {
  it("a device's profile moves on the shard with its state", () => {
    let counts = { ...emptyShardCounts(), submitted: 1 };
    counts = moveShardCounts(counts, { state: "submitted" }, { state: "imported", profileState: "waiting" });
    expect(counts).toMatchObject({ submitted: 0, imported: 1, profileWaiting: 1 });
    counts = moveShardCounts(counts, { state: "imported", profileState: "waiting" }, { state: "imported", profileState: "assigned" });
    expect(counts).toMatchObject({ imported: 1, profileWaiting: 0, profileAssigned: 1 });
  });
  it("runs while any device waits; without a profile it is not a success", () => {
    const counts = { queued: 0, retrying: 0, submitted: 0, imported: 3, failed: 0, canceled: 0 };
    expect(batchStatus(3, counts, { waiting: 1, assigned: 2, notAssigned: 0 })).toBe("running");
    expect(batchStatus(3, counts, { waiting: 0, assigned: 3, notAssigned: 0 })).toBe("succeeded");
    expect(batchStatus(3, counts, { waiting: 0, assigned: 2, notAssigned: 1 })).toBe("partially_succeeded");
    expect(batchStatus(3, counts)).toBe("succeeded");
  });
});
