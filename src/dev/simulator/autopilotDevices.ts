import type { EnrollmentState, WindowsAutopilotProfileAssignmentStatus } from "@microsoft/microsoft-graph-types-beta";
import { serialKey } from "./deviceKeys.js";

/**
 * The simulated `windowsAutopilotDeviceIdentities` collection (beta): the registered Autopilot
 * devices of each tenant, as the facts sheet's "After the import: the Autopilot device"
 * describes them. Kept apart from the imported records (importStore.ts) so that what acts on
 * registered devices (following a profile assignment, updating one, deregistering one) can use
 * it without the import machinery.
 *
 * - A device appears when an import of it completes (its id is the import's
 *   `state.deviceRegistrationId`), or when a test registers one beforehand.
 * - Profile assignment: a device starts `notAssigned`. While a deployment profile targets its
 *   group tag (`targetProfile`), it is `pending` and becomes `assignedInSync` after the
 *   profile delay, with `deploymentProfileAssignedDateTime` then. No profile targets anything
 *   until a test says so, so a test can have devices that never get one. How long Intune takes
 *   is not documented; the delay is an option.
 * - Deleting a device is refused while it is `enrolled` (the facts sheet: it must be removed
 *   from Intune first); a deleted device is no longer registered, so it can be imported again.
 */
export interface AutopilotDevice {
  readonly seq: number;
  readonly id: string;
  readonly tenantId: string;
  serialNumber: string;
  /** The hash's key (deviceKeys.ts), so a deregistration frees the hash too; never served. */
  readonly hashKey: string | undefined;
  groupTag: string;
  userPrincipalName: string;
  addressableUserName: string;
  displayName: string;
  enrollmentState: EnrollmentState;
  createdAt: number;
  listedFrom: number;
  /** When a profile's assignment started (the device became targeted); undefined while none targets it. */
  targetedAt: number | undefined;
  /** When the assignment completed; set once, when it is first seen due. */
  assignedAt: number | undefined;
}

/** A deployment profile's target: devices with this group tag (case-insensitive), or every device of the tenant. */
export interface ProfileTarget {
  groupTag?: string;
}

/** The profile assignment status a device shows at `now` (pure). */
export function profileStatusAt(
  device: Pick<AutopilotDevice, "targetedAt" | "assignedAt">,
  now: number,
  delayMs: number,
): {
  status: WindowsAutopilotProfileAssignmentStatus;
  assignedAt?: number;
} {
  if (device.assignedAt !== undefined) return { status: "assignedInSync", assignedAt: device.assignedAt };
  if (device.targetedAt === undefined) return { status: "notAssigned" };
  const due = device.targetedAt + delayMs;
  return now >= due ? { status: "assignedInSync", assignedAt: due } : { status: "pending" };
}

/** Whether a profile targets a device with this group tag (pure). */
export function isTargeted(targets: readonly ProfileTarget[], groupTag: string): boolean {
  return targets.some((t) => t.groupTag === undefined || t.groupTag.trim().toUpperCase() === groupTag.trim().toUpperCase());
}

/**
 * `$filter` on the collection: only `contains(serialNumber,'…')` is documented (equality is not
 * supported there: microsoft-graph-docs #9357, msgraph-sdk-powershell #1260). Anything else is
 * refused. Returns the substring, or an error message.
 */
export function parseSerialFilter(filter: string): { ok: true; contains: string } | { ok: false; message: string } {
  const match = /^\s*contains\(\s*serialNumber\s*,\s*'((?:[^']|'')*)'\s*\)\s*$/i.exec(filter);
  if (!match)
    return {
      ok: false,
      message: `Invalid filter clause: only contains(serialNumber,'…') is supported on windowsAutopilotDeviceIdentities.`,
    };
  return { ok: true, contains: match[1]!.replace(/''/g, "'") };
}

export interface NewAutopilotDevice {
  id: string;
  serialNumber?: string | null;
  hashKey?: string;
  groupTag?: string | null;
  userPrincipalName?: string | null;
  enrollmentState?: EnrollmentState;
}

export class AutopilotDeviceStore {
  private readonly tenants = new Map<string, Map<string, AutopilotDevice>>();
  private readonly targets = new Map<string, ProfileTarget[]>();
  private nextSeq = 1;

  constructor(private readonly timing: { profileDelayMs: number; listLagMs: number }) {}

  /** `lag`: lists show it only after the list lag, as for a device whose import just completed. */
  add(tenantId: string, input: NewAutopilotDevice, now: number, lag = true): AutopilotDevice {
    const device: AutopilotDevice = {
      seq: this.nextSeq++,
      id: input.id,
      tenantId,
      serialNumber: input.serialNumber ?? "",
      hashKey: input.hashKey,
      groupTag: input.groupTag ?? "",
      userPrincipalName: input.userPrincipalName ?? "",
      addressableUserName: "",
      displayName: "",
      enrollmentState: input.enrollmentState ?? "notContacted",
      createdAt: now,
      listedFrom: lag ? now + this.timing.listLagMs : now,
      targetedAt: undefined,
      assignedAt: undefined,
    };
    if (isTargeted(this.targets.get(tenantId) ?? [], device.groupTag)) device.targetedAt = now;
    this.devices(tenantId).set(device.id, device);
    return device;
  }

  get(tenantId: string, id: string, now: number): AutopilotDevice | undefined {
    const device = this.tenants.get(tenantId)?.get(id);
    if (device) this.settle(device, now);
    return device;
  }

  /** Every device of the tenant, in creation order, settled at `now`; `listedOnly`: as list pages show them. */
  list(tenantId: string, now: number, listedOnly: boolean): AutopilotDevice[] {
    const all = [...(this.tenants.get(tenantId)?.values() ?? [])];
    for (const device of all) this.settle(device, now);
    return listedOnly ? all.filter((d) => d.listedFrom <= now) : all;
  }

  bySerial(tenantId: string, serialNumber: string, now: number): AutopilotDevice[] {
    const key = serialKey(serialNumber);
    return this.list(tenantId, now, false).filter((d) => key !== undefined && serialKey(d.serialNumber) === key);
  }

  remove(tenantId: string, id: string): AutopilotDevice | undefined {
    const devices = this.tenants.get(tenantId);
    const device = devices?.get(id);
    if (device) devices!.delete(id);
    return device;
  }

  /** updateDeviceProperties: a new group tag may bring the device into (or out of) a profile's target. */
  update(
    device: AutopilotDevice,
    changes: Partial<Pick<AutopilotDevice, "groupTag" | "userPrincipalName" | "addressableUserName" | "displayName">>,
    now: number,
  ): void {
    this.settle(device, now);
    Object.assign(device, changes);
    this.retarget(device, now);
  }

  targetProfile(tenantId: string, target: ProfileTarget, now: number): void {
    const targets = this.targets.get(tenantId) ?? [];
    targets.push({ ...target });
    this.targets.set(tenantId, targets);
    for (const device of this.tenants.get(tenantId)?.values() ?? []) this.retarget(device, now);
  }

  private retarget(device: AutopilotDevice, now: number): void {
    if (device.assignedAt !== undefined) return; // an assigned profile stays (re-assignment is not modelled)
    const targeted = isTargeted(this.targets.get(device.tenantId) ?? [], device.groupTag);
    if (targeted && device.targetedAt === undefined) device.targetedAt = now;
    if (!targeted) device.targetedAt = undefined;
  }

  private settle(device: AutopilotDevice, now: number): void {
    const { assignedAt } = profileStatusAt(device, now, this.timing.profileDelayMs);
    if (assignedAt !== undefined) device.assignedAt = assignedAt;
  }

  private devices(tenantId: string): Map<string, AutopilotDevice> {
    let devices = this.tenants.get(tenantId);
    if (!devices) this.tenants.set(tenantId, (devices = new Map()));
    return devices;
  }
}

export const AUTOPILOT_DEVICE_ODATA_TYPE = "#microsoft.graph.windowsAutopilotDeviceIdentity";

/** The resource as beta serialises it (the properties the facts sheet names, and a few neighbours). */
export function autopilotDeviceBody(device: AutopilotDevice, now: number, delayMs: number): Record<string, unknown> {
  const profile = profileStatusAt(device, now, delayMs);
  return {
    "@odata.type": AUTOPILOT_DEVICE_ODATA_TYPE,
    id: device.id,
    serialNumber: device.serialNumber,
    groupTag: device.groupTag,
    userPrincipalName: device.userPrincipalName,
    addressableUserName: device.addressableUserName,
    displayName: device.displayName,
    enrollmentState: device.enrollmentState,
    lastContactedDateTime: "0001-01-01T00:00:00Z",
    deploymentProfileAssignmentStatus: profile.status,
    deploymentProfileAssignedDateTime:
      profile.assignedAt !== undefined ? new Date(profile.assignedAt).toISOString() : "0001-01-01T00:00:00Z",
  };
}
