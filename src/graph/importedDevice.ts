import type { WindowsAutopilotDeviceIdentity } from "@microsoft/microsoft-graph-types-beta";
import type {
  ImportedWindowsAutopilotDeviceIdentity,
  ImportedWindowsAutopilotDeviceIdentityImportStatus,
  ImportedWindowsAutopilotDeviceIdentityState,
} from "@microsoft/microsoft-graph-types";

/**
 * Graph's importedWindowsAutopilotDeviceIdentity, as far as this pipeline reads or writes it,
 * derived from Microsoft's own type package so that a misspelled or vanished property fails the
 * build. Only `id`, `serialNumber` and `state` of an answer are trusted: real tenants have been
 * seen to answer with `importId` and `productKey` set to the record's own id and an empty
 * `hardwareIdentifier` (MSEndpointMgr/Intune issue #71), so those are the service's, not ours.
 */
export type DeviceImportStatus = ImportedWindowsAutopilotDeviceIdentityImportStatus;

export type ImportedDeviceState = Pick<
  ImportedWindowsAutopilotDeviceIdentityState,
  "deviceRegistrationId" | "deviceErrorCode" | "deviceErrorName"
> & {
  deviceImportStatus: DeviceImportStatus;
};

type GraphRecord = Pick<ImportedWindowsAutopilotDeviceIdentity, "serialNumber" | "importId" | "groupTag">;

export type ImportedDeviceIdentity = GraphRecord & {
  id: string;
  state?: ImportedDeviceState | null;
};

/** The body of a create: only the properties Graph reads (it ignores id and state). */
export type ImportedDeviceCreate = Required<Pick<ImportedWindowsAutopilotDeviceIdentity, "serialNumber" | "hardwareIdentifier">> &
  Pick<ImportedWindowsAutopilotDeviceIdentity, "productKey" | "groupTag" | "assignedUserPrincipalName" | "importId">;

/** Statuses that say Intune is still working on the import. */
export function isImportRunning(status: DeviceImportStatus | undefined | null): boolean {
  return status !== "complete" && status !== "error";
}

/**
 * A registered Autopilot device (beta windowsAutopilotDeviceIdentity), as far as this pipeline
 * reads it: its id is the imported record's `state.deviceRegistrationId`. The profile assignment
 * properties exist only in beta (the v1.0 type has neither), which is why these calls go to beta.
 */
export type AutopilotDeviceIdentity = Pick<
  WindowsAutopilotDeviceIdentity,
  | "serialNumber"
  | "groupTag"
  | "userPrincipalName"
  | "enrollmentState"
  | "deploymentProfileAssignmentStatus"
  | "deploymentProfileAssignedDateTime"
> & { id: string };

/** What updateDeviceProperties may set here: the batch's group tag and assigned user. */
export type AutopilotDeviceProperties = Pick<WindowsAutopilotDeviceIdentity, "groupTag" | "userPrincipalName">;
