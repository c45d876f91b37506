import { writeFile } from "node:fs/promises";
import { stringify } from "csv-stringify/sync";
import type { Device } from "../types.js";
import { guardCell } from "./csvCells.js";
import { AUTOPILOT_COLUMNS, RESULT_COLUMNS, type InputDevice } from "./inputFile.js";

const key = (serialNumber: string) => serialNumber.trim().toLowerCase();

/**
 * Every device with its outcome, in the Autopilot CSV's own columns plus the outcome's: fix a
 * failed row and push the file again (rows already imported are skipped). The hash comes from the
 * pushed file, matched by serial number (unique in a batch); the API never returns one.
 */
export function resultsCsv(devices: readonly Device[], pushed: readonly InputDevice[] = []): string {
  const bySerial = new Map(pushed.map((d) => [key(d.serialNumber ?? ""), d]));
  const rows = [...devices]
    .sort((a, b) => a.index - b.index)
    .map((device) => {
      const input = bySerial.get(key(device.serialNumber));
      return [
        device.serialNumber,
        input?.productKey ?? "",
        input?.hardwareIdentifier ?? "",
        input?.groupTag ?? device.groupTag ?? "",
        input?.assignedUserPrincipalName ?? "",
        device.state,
        device.error?.code ?? "",
        device.error?.name ?? "",
        device.error?.message ?? "",
      ].map(guardCell);
    });
  return stringify([[...AUTOPILOT_COLUMNS, ...RESULT_COLUMNS], ...rows], { record_delimiter: "\r\n" });
}

export async function writeResultsCsv(path: string, devices: readonly Device[], pushed?: readonly InputDevice[]): Promise<void> {
  await writeFile(path, resultsCsv(devices, pushed));
}
