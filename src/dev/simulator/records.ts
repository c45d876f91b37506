import type {
  ImportedWindowsAutopilotDeviceIdentity,
  ImportedWindowsAutopilotDeviceIdentityImportStatus,
  ImportedWindowsAutopilotDeviceIdentityState,
} from "@microsoft/microsoft-graph-types";

/** The importedWindowsAutopilotDeviceIdentity resource as Graph serialises it. */
export const IMPORTED_DEVICE_ODATA_TYPE = "#microsoft.graph.importedWindowsAutopilotDeviceIdentity";
// Graph writes the nested complex type without the leading '#'.
export const IMPORTED_DEVICE_STATE_ODATA_TYPE = "microsoft.graph.importedWindowsAutopilotDeviceIdentityState";

export type SimulatedDeviceImportStatus = ImportedWindowsAutopilotDeviceIdentityImportStatus;

// The interfaces below are narrower than Microsoft's (every property present, strings where
// Graph never sends null), so they are written out; the checks after them tie them to
// @microsoft/microsoft-graph-types (v1.0) so a misspelt, vanished or newly added property
// fails `npm run build` instead of changing the wire shape unnoticed.

export interface SimulatedImportedDeviceState {
  "@odata.type": typeof IMPORTED_DEVICE_STATE_ODATA_TYPE;
  deviceImportStatus: SimulatedDeviceImportStatus;
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
  state: SimulatedImportedDeviceState;
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

/** Property names of Ours that the official type lacks, or the other way round ("@odata.type" is an annotation, not a property). */
type NameMismatch<Ours, Official> = Exclude<Exclude<keyof Ours, "@odata.type">, keyof Official> | Exclude<keyof Official, keyof Ours>;
/** Fails to compile with the offending names, e.g. `Type '"serialNumbr"' does not satisfy the constraint 'never'`. */
type NoNameMismatch<Names extends never> = Names;
/** Fails to compile when a value of Ours is not one the official type allows (e.g. a status outside its enum). */
type Conforms<Ours extends Official, Official> = Ours;

export type RecordMatchesOfficial = [
  NoNameMismatch<NameMismatch<ImportedDeviceRecord, ImportedWindowsAutopilotDeviceIdentity>>,
  NoNameMismatch<NameMismatch<SimulatedImportedDeviceState, ImportedWindowsAutopilotDeviceIdentityState>>,
  // The input is the record less what the service owns, so only its names are checked one way.
  NoNameMismatch<Exclude<keyof ImportedDeviceInput, keyof ImportedWindowsAutopilotDeviceIdentity>>,
  Conforms<ImportedDeviceRecord, ImportedWindowsAutopilotDeviceIdentity>,
  Conforms<SimulatedImportedDeviceState, ImportedWindowsAutopilotDeviceIdentityState>,
  Conforms<ImportedDeviceInput, ImportedWindowsAutopilotDeviceIdentity>,
];

/** Graph answers every create with the import not yet looked at. */
export function unsettledState(): SimulatedImportedDeviceState {
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
