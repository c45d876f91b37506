import { readHashBytes } from "../../model/hardwareHash.js";

/**
 * Whether Intune's import could read this hash: it fails one it cannot decode, or one without
 * a serial number or manufacturer inside, as 802 InvalidZtdHardwareHash ("hash invalid (e.g.
 * manufacturer or serial missing inside it)": Graph facts sheet, import error codes). The same
 * decoder as intake, so a batch sent with hashCheck=off shows here what intake's checks save.
 */
export function hashNamesDevice(hardwareIdentifier: string | null | undefined): boolean {
  if (!hardwareIdentifier) return false;
  const read = readHashBytes(Buffer.from(hardwareIdentifier, "base64"));
  return read.ok && read.facts.serialNumber !== undefined && read.facts.manufacturer !== undefined;
}
