import type { DeviceSubmission } from "./deviceSchema.js";

export interface Duplicate {
  /** The later device, which the problem is reported on. */
  index: number;
  /** The first device with the same value. */
  firstIndex: number;
  field: "serialNumber" | "hardwareIdentifier";
}

/**
 * The same device twice in one batch: same serial number (case-insensitive, as Intune matches
 * them) or the same hardware hash. Intune would import one and fail the other as duplicated.
 */
export function findDuplicates(
  devices: readonly (Pick<DeviceSubmission, "serialNumber" | "hardwareIdentifier"> & { index: number })[],
): Duplicate[] {
  const found: Duplicate[] = [];
  const serials = new Map<string, number>();
  const hashes = new Map<string, number>();
  devices.forEach((device) => {
    const { index } = device;
    const serial = device.serialNumber.toUpperCase();
    const firstSerial = serials.get(serial);
    if (firstSerial === undefined) serials.set(serial, index);
    else found.push({ index, firstIndex: firstSerial, field: "serialNumber" });

    const firstHash = hashes.get(device.hardwareIdentifier);
    if (firstHash === undefined) hashes.set(device.hardwareIdentifier, index);
    else found.push({ index, firstIndex: firstHash, field: "hardwareIdentifier" });
  });
  return found;
}
