/** The importedWindowsAutopilotDeviceIdentity resource as Graph serialises it. */
export const IMPORTED_DEVICE_ODATA_TYPE = "#microsoft.graph.importedWindowsAutopilotDeviceIdentity";
// Graph writes the nested complex type without the leading '#'.
export const IMPORTED_DEVICE_STATE_ODATA_TYPE = "microsoft.graph.importedWindowsAutopilotDeviceIdentityState";

export type DeviceImportStatus = "unknown" | "pending" | "partial" | "complete" | "error";

export interface ImportedDeviceState {
  "@odata.type": typeof IMPORTED_DEVICE_STATE_ODATA_TYPE;
  deviceImportStatus: DeviceImportStatus;
  deviceRegistrationId: string;
  deviceErrorCode: number;
  deviceErrorName: string;
}

export interface ImportedDeviceRecord {
  "@odata.type": typeof IMPORTED_DEVICE_ODATA_TYPE;
  id: string;
  groupTag: string | null;
  serialNumber: string | null;
  productKey: string | null;
  importId: string | null;
  hardwareIdentifier: string | null;
  assignedUserPrincipalName: string | null;
  state: ImportedDeviceState;
}

/** What a client may set on create; everything else is the service's. */
export interface ImportedDeviceInput {
  groupTag: string | null;
  serialNumber: string | null;
  productKey: string | null;
  importId: string | null;
  hardwareIdentifier: string | null;
  assignedUserPrincipalName: string | null;
}

/** Graph answers every create with the import not yet looked at. */
export function unsettledState(): ImportedDeviceState {
  return {
    "@odata.type": IMPORTED_DEVICE_STATE_ODATA_TYPE,
    deviceImportStatus: "unknown",
    deviceRegistrationId: "",
    deviceErrorCode: 0,
    deviceErrorName: "",
  };
}

export function newRecord(id: string, input: ImportedDeviceInput): ImportedDeviceRecord {
  return { "@odata.type": IMPORTED_DEVICE_ODATA_TYPE, id, ...input, state: unsettledState() };
}
