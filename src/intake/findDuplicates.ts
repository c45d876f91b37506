/**
 * Two entries for one device in one batch: the same serial number (case-insensitively, ignoring
 * surrounding space) or the same hardware hash. Graph would import one and fail the other with
 * ZtdDeviceDuplicated, so the batch is refused instead.
 *
 * Works on devices that may not have passed validation yet (it runs beside the field rules, so
 * every problem is reported at once): anything that is not a non-empty string is skipped.
 */
export interface Duplicate {
  /** The later device, which carries the problem. */
  index: number;
  field: "serialNumber" | "hardwareIdentifier";
  /** The first device with the same value. */
  duplicateOf: number;
}

export function findDuplicates(devices: readonly unknown[]): Duplicate[] {
  const serials = new Map<string, number>();
  const hashes = new Map<string, number>();
  const found: Duplicate[] = [];
  devices.forEach((device, index) => {
    if (typeof device !== "object" || device === null) return;
    const { serialNumber, hardwareIdentifier } = device as Record<string, unknown>;
    const serial = typeof serialNumber === "string" ? serialNumber.trim().toUpperCase() : "";
    if (serial !== "") {
      const first = serials.get(serial);
      if (first === undefined) serials.set(serial, index);
      else found.push({ index, field: "serialNumber", duplicateOf: first });
    }
    const hash = typeof hardwareIdentifier === "string" ? hardwareIdentifier.trim() : "";
    if (hash !== "") {
      const first = hashes.get(hash);
      if (first === undefined) hashes.set(hash, index);
      else found.push({ index, field: "hardwareIdentifier", duplicateOf: first });
    }
  });
  return found;
}
