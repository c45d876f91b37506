import type { AutopilotDeviceIdentity } from "../graph/importedDevice.js";
import { withNote, type DeviceFields } from "../storage/importEntities.js";
import { sameSerialNumber } from "../model/hashRules.js";

/**
 * Following imported devices to their Autopilot profile (a batch with followUntil
 * profileAssigned): which reads a poll round makes, and what each device's Autopilot device
 * says. Pure; pollBatch.ts does the reads and the writes.
 *
 * Reads: the only filter Graph documents on windowsAutopilotDeviceIdentities is
 * `contains(serialNumber,'…')`, and an OEM order's serial numbers mostly share a prefix. So the
 * waiting devices' serial numbers are grouped by a shared prefix of at least MIN_SHARED_PREFIX
 * characters, and each group costs one filtered list (a page per up to Graph's page size of
 * matches) per round, whatever the number of devices in it. When that takes more than
 * MAX_FILTERED_LISTS lists, the round walks the whole collection instead (bounded like every
 * walk). A round never reads one device at a time.
 */
export const MIN_SHARED_PREFIX = 4;
export const MAX_FILTERED_LISTS = 4;

export type ProfileReadPlan = { kind: "filtered"; contains: string[] } | { kind: "all" } | { kind: "none" };

/** The lists one round makes for these serial numbers (pure). */
export function planProfileReads(
  serialNumbers: readonly string[],
  maxLists = MAX_FILTERED_LISTS,
  minPrefix = MIN_SHARED_PREFIX,
): ProfileReadPlan {
  const serials = [...new Set(serialNumbers.map((s) => s.trim()).filter((s) => s !== ""))].sort((a, b) =>
    a.toUpperCase().localeCompare(b.toUpperCase()),
  );
  if (serials.length === 0) return { kind: "none" };
  const groups: string[] = [];
  let prefix = serials[0]!;
  for (const serial of serials.slice(1)) {
    const shared = commonPrefixLength(prefix, serial);
    if (shared >= minPrefix) {
      prefix = prefix.slice(0, shared);
    } else {
      groups.push(prefix);
      prefix = serial;
    }
  }
  groups.push(prefix);
  return groups.length <= maxLists ? { kind: "filtered", contains: groups } : { kind: "all" };
}

function commonPrefixLength(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i]!.toUpperCase() === b[i]!.toUpperCase()) i++;
  return i;
}

/** A waiting device's Autopilot device among those a round listed: by its id, else the only one with its serial number. */
export function matchAutopilotDevice(
  device: Pick<DeviceFields, "autopilotDeviceId" | "deviceRegistrationId" | "serialNumber">,
  listed: readonly AutopilotDeviceIdentity[],
): AutopilotDeviceIdentity | undefined {
  const id = device.autopilotDeviceId ?? device.deviceRegistrationId;
  if (id) {
    const byId = listed.find((d) => d.id === id);
    if (byId) return byId;
  }
  const bySerial = listed.filter((d) => sameSerialNumber(d.serialNumber, device.serialNumber));
  return bySerial.length === 1 ? bySerial[0] : undefined;
}

export type ProfileChanges = Pick<DeviceFields, "profileState" | "profileStatus" | "profileAssignedAt" | "autopilotDeviceId" | "notes">;

/**
 * What one look tells about a waiting device (undefined: nothing new). Tools ship a device once
 * its status begins with "assigned"; Intune's "failed" ends the wait at once; otherwise the wait
 * ends `timeoutMs` after the import, when the device is reported as imported without a profile.
 */
export function decideProfile(
  device: Pick<DeviceFields, "profileStatus" | "autopilotDeviceId" | "importedAt" | "updatedAt" | "groupTag" | "notes">,
  found: AutopilotDeviceIdentity | undefined,
  now: number,
  timeoutMs: number,
): ProfileChanges | undefined {
  const status = found?.deploymentProfileAssignmentStatus ?? undefined;
  const seen = found ? { autopilotDeviceId: found.id, ...(status ? { profileStatus: status } : {}) } : {};
  if (status?.startsWith("assigned")) {
    const at = found?.deploymentProfileAssignedDateTime;
    const assignedAt = at && Date.parse(at) > Date.UTC(2000, 0, 1) ? new Date(Date.parse(at)).toISOString() : undefined;
    return { ...seen, profileState: "assigned", ...(assignedAt ? { profileAssignedAt: assignedAt } : {}) };
  }
  if (status === "failed") {
    return {
      ...seen,
      profileState: "notAssigned",
      notes: withNote(device, {
        code: "NoProfileAssigned",
        message:
          "Imported, no profile assigned: Intune reports that assigning the deployment profile failed. Look at the profile's assignments in Intune, then assign it again.",
      }),
    };
  }
  const since = Date.parse(device.importedAt ?? device.updatedAt);
  if (now - since >= timeoutMs) {
    return {
      ...seen,
      profileState: "notAssigned",
      notes: withNote(device, {
        code: "NoProfileAssigned",
        message: noProfileMessage(timeoutMs, status ?? (found ? "unknown" : undefined), device.groupTag),
      }),
    };
  }
  if (found && (found.id !== device.autopilotDeviceId || (status !== undefined && status !== device.profileStatus)))
    return { ...seen, profileState: "waiting" };
  return undefined;
}

export function noProfileMessage(timeoutMs: number, lastStatus: string | undefined, groupTag: string | undefined): string {
  const hours = timeoutMs >= 3_600_000 ? `${+(timeoutMs / 3_600_000).toFixed(1)} h` : `${Math.round(timeoutMs / 60_000)} min`;
  const seen = lastStatus ? `its Autopilot device still said '${lastStatus}'` : "its Autopilot device was not found in the tenant's list";
  const tag = groupTag ? `group tag '${groupTag}'` : "device (it has no group tag)";
  return (
    `Imported, no profile assigned: ${hours} after the import ${seen}. This usually means no Autopilot deployment profile targets this ${tag}: ` +
    "assign a profile to a group that contains it (for example a dynamic device group on [OrderID]), and it is assigned at the next Autopilot sync."
  );
}

/** What becoming imported adds: when, and for a batch followed to its profiles, a wait for one (counted on the shards). */
export function importedFollow(device: Pick<DeviceFields, "followUntil">, at: string): Pick<DeviceFields, "importedAt" | "profileState"> {
  return { importedAt: at, ...(device.followUntil === "profileAssigned" ? { profileState: "waiting" as const } : {}) };
}
