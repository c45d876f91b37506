import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import { parse } from "csv-parse/sync";
import { stringify } from "csv-stringify/sync";
import { unguardCell } from "./csvCells.js";

/** A device of the pushed file, kept to write it back with its outcome (the API never returns hashes). */
export interface InputDevice {
  serialNumber: string;
  productKey?: string;
  hardwareIdentifier?: string;
  groupTag?: string;
  assignedUserPrincipalName?: string;
}

export interface PushInput {
  kind: "csv" | "json";
  /** What is sent: the file's own bytes, or, for a results file of ours, its rows not yet imported. */
  body: Uint8Array;
  devices: InputDevice[];
  /** Rows of a results file skipped because they were imported already. */
  skippedImported: number;
}

export const AUTOPILOT_COLUMNS = ["Device Serial Number", "Windows Product ID", "Hardware Hash", "Group Tag", "Assigned User"] as const;
export const RESULT_COLUMNS = ["Outcome", "Error Code", "Error Name", "Reason"] as const;

const FIELD_BY_HEADER: Record<string, keyof InputDevice> = {
  deviceserialnumber: "serialNumber",
  windowsproductid: "productKey",
  hardwarehash: "hardwareIdentifier",
  grouptag: "groupTag",
  assigneduser: "assignedUserPrincipalName",
};
const normalize = (header: string) => header.toLowerCase().replace(/[\s_-]/g, "");

/** The text of a CSV as Windows tools write it: UTF-8 with or without BOM, or UTF-16 with BOM. */
function decode(bytes: Uint8Array): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder("utf-16le").decode(bytes.subarray(2));
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder("utf-16be").decode(bytes.subarray(2));
  return new TextDecoder("utf-8").decode(bytes).replace(/^\uFEFF/, "");
}

/** The CSV's rows as records keyed by normalized header; the API judges the file, this only reads it. */
function readCsv(text: string): { headers: string[]; rows: Record<string, string>[] } {
  const lines = text.replace(/^#TYPE[^\n]*\n/, "");
  const header = lines.split(/\r?\n/, 1)[0] ?? "";
  const delimiter = [",", ";", "\t"].reduce((best, d) => (header.split(d).length > header.split(best).length ? d : best), ",");
  const records = parse(lines, { delimiter, skip_empty_lines: true, relax_column_count: true }) as string[][];
  const headers = (records[0] ?? []).map(normalize);
  const rows = records.slice(1).map((cells) => Object.fromEntries(headers.map((h, i) => [h, unguardCell((cells[i] ?? "").trim())])));
  return { headers, rows };
}

function deviceOf(row: Record<string, string>): InputDevice {
  const device: Record<string, string> = {};
  for (const [header, field] of Object.entries(FIELD_BY_HEADER)) if (row[header]) device[field] = row[header]!;
  return device as unknown as InputDevice;
}

function jsonInput(bytes: Uint8Array): PushInput {
  let devices: InputDevice[] = [];
  try {
    const body = JSON.parse(decode(bytes)) as { devices?: InputDevice[]; importedWindowsAutopilotDeviceIdentities?: InputDevice[] };
    devices = body.devices ?? body.importedWindowsAutopilotDeviceIdentities ?? [];
  } catch {
    // Sent as it is: the API names the line and column of what is wrong.
  }
  return { kind: "json", body: bytes, devices, skippedImported: 0 };
}

function csvInput(bytes: Uint8Array): PushInput {
  let table;
  try {
    table = readCsv(decode(bytes));
  } catch {
    return { kind: "csv", body: bytes, devices: [], skippedImported: 0 };
  }
  if (!table.headers.includes("outcome")) return { kind: "csv", body: bytes, devices: table.rows.map(deviceOf), skippedImported: 0 };
  // A results file of ours, fixed and pushed again: the rows not imported yet, without the result columns the API does not know.
  const pending = table.rows.filter((row) => row.outcome !== "imported");
  const devices = pending.map(deviceOf);
  const csv = stringify([
    [...AUTOPILOT_COLUMNS],
    ...devices.map((d) => [
      d.serialNumber,
      d.productKey ?? "",
      d.hardwareIdentifier ?? "",
      d.groupTag ?? "",
      d.assignedUserPrincipalName ?? "",
    ]),
  ]);
  return { kind: "csv", body: new TextEncoder().encode(csv), devices, skippedImported: table.rows.length - pending.length };
}

export async function readPushInput(path: string): Promise<PushInput> {
  const bytes = new Uint8Array(await readFile(path));
  return extname(path).toLowerCase() === ".json" ? jsonInput(bytes) : csvInput(bytes);
}

/**
 * The Idempotency-Key of a push: the same file with the same options is the same request, so a
 * rerun (after a dropped connection, a closed terminal) gets the first batch back, never a second.
 */
export function pushIdempotencyKey(input: PushInput, options: { tenant?: string; groupTag?: string }): string {
  const hash = createHash("sha256");
  for (const part of [input.kind, options.tenant ?? "", options.groupTag ?? ""]) hash.update(part).update("\0");
  hash.update(input.body);
  return `autopilot-import-cli-${hash.digest("hex")}`;
}
