import { IMPORT_ERROR_NAMES } from "./importErrorCodes.js";

/**
 * Plain-language reasons for the import error codes Intune reports in
 * state.deviceErrorCode / deviceErrorName (see the Autopilot troubleshooting docs).
 */
const EXPLANATIONS: Record<string, string> = {
  "801": "Intune rejected the request as malformed (InvalidZtdRequestBody).",
  "802":
    "The hardware hash is invalid: it may be truncated or lack the manufacturer or serial number inside it. Capture it again with Get-WindowsAutopilotInfo (InvalidZtdHardwareHash).",
  "803": "The device has neither a valid serial number nor a product key (MissingZtdSerialNumberAndProductKey).",
  "806": "The device is already registered in this tenant; nothing needs to be done (ZtdDeviceAlreadyAssigned).",
  "807": "The device is not registered in this tenant (ZtdDeviceIsNotRegistered).",
  "808":
    "The device is registered to another tenant; that tenant (or its reseller) must deregister it first (ZtdDeviceAssignedToOtherTenant).",
  "809": "The Autopilot profile is not registered to this tenant (ZtdProfileIsNotRegistered).",
  "810": "The Autopilot profile belongs to another tenant (ZtdProfileAssignedToOtherTenant).",
  "811": "The device was registered by another tenant, which must remove it (ZtdDeviceRegisteredByOtherTenant).",
  "812": "No device matched the manufacturer, model and serial number in the hash (ZtdDeviceNotFound).",
  "813": "The device cannot be identified uniquely from its hash (ZtdDeviceIsNotUnique).",
  "814": "A device object for this device already exists in Entra ID (ZtdDeviceAlreadyAadRegistered).",
  ZtdDeviceDuplicated: "The same hardware hash was imported more than once at the same time; only one of the imports was processed.",
};

export function explainImportError(code: number | undefined, name: string | undefined): string {
  const byCode = code ? EXPLANATIONS[String(code)] : undefined;
  const byName = name ? EXPLANATIONS[name] : undefined;
  return byCode ?? byName ?? `Intune reported import error ${code ?? ""}${name ? ` ${name}` : ""}`.trim() + ".";
}

export function importErrorName(code: number | undefined, name: string | undefined): string | undefined {
  return name || (code ? IMPORT_ERROR_NAMES.get(code) : undefined);
}
