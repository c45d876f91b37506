import { ALREADY_ASSIGNED, IMPORT_ERROR_NAMES } from "../../graph/importErrorCodes.js";

export { ALREADY_ASSIGNED, IMPORT_ERROR_NAMES };

export const INVALID_HARDWARE_HASH = 802;
export const MISSING_SERIAL_NUMBER = 803;
export const ASSIGNED_TO_OTHER_TENANT = 808;

/**
 * The admin center shows "ZtdDeviceDuplicated" for a hash uploaded twice at once, but no
 * numeric code for it is documented. The simulator reports code 0 so that no client can
 * mistake an invented number for a real one: clients must branch on deviceImportStatus
 * ("error") and the name, never on a non-zero code alone.
 */
export const DEVICE_DUPLICATED = { code: 0, name: "ZtdDeviceDuplicated" } as const;

export function documentedImportErrorName(code: number): string {
  const name = IMPORT_ERROR_NAMES.get(code);
  if (name === undefined) {
    throw new RangeError(`${code} is not a documented Autopilot import error code (${[...IMPORT_ERROR_NAMES.keys()].join(", ")})`);
  }
  return name;
}
