/** Graph's importedWindowsAutopilotDeviceIdentity, as far as this pipeline reads or writes it. */
export type DeviceImportStatus = "unknown" | "pending" | "partial" | "complete" | "error";

export interface ImportedDeviceState {
  deviceImportStatus: DeviceImportStatus;
  deviceRegistrationId?: string;
  deviceErrorCode?: number;
  deviceErrorName?: string;
}

export interface ImportedDeviceIdentity {
  id: string;
  serialNumber?: string;
  importId?: string;
  groupTag?: string;
  state?: ImportedDeviceState;
}

/** The body of a create: only the properties Graph reads (it ignores id and state). */
export interface ImportedDeviceCreate {
  serialNumber: string;
  hardwareIdentifier: string;
  productKey?: string;
  groupTag?: string;
  assignedUserPrincipalName?: string;
  importId?: string;
}
