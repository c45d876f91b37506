import { parse } from "csv-parse/sync";

/** The Autopilot CSV's columns, as Get-WindowsAutopilotInfo writes them, and the device field each fills. */
export const CSV_COLUMNS = {
  "device serial number": "serialNumber",
  "windows product id": "productKey",
  "hardware hash": "hardwareIdentifier",
  "group tag": "groupTag",
  "assigned user": "assignedUserPrincipalName",
} as const;

const REQUIRED_COLUMNS = ["Device Serial Number", "Windows Product ID", "Hardware Hash"];

export interface CsvDevice {
  /** 1-based line of the file, the header being line 1. */
  line: number;
  fields: Record<string, string>;
}

export type CsvOutcome =
  | { ok: true; devices: CsvDevice[] }
  | { ok: false; kind: "malformed"; message: string; line?: number }
  | { ok: false; kind: "columns"; message: string };

/**
 * Parses the hardware-hash CSV. Lenient where real files vary (header case and spacing, column
 * order, quotes, CRLF, blank lines), strict where leniency would lose data (unknown columns,
 * rows with the wrong number of fields).
 */
export function parseAutopilotCsv(text: string): CsvOutcome {
  let records: { record: string[]; line: number }[];
  try {
    records = (
      parse(text, {
        skip_empty_lines: true,
        // A line of only commas (Excel leaves these) is blank too.
        skip_records_with_empty_values: true,
        trim: true,
        relax_column_count: false,
        info: true,
      }) as unknown as { record: string[]; info: { lines: number } }[]
    ).map(({ record, info }) => ({ record, line: info.lines }));
  } catch (error) {
    const e = error as Error & { lines?: number };
    return { ok: false, kind: "malformed", message: csvErrorMessage(e), ...(e.lines ? { line: e.lines } : {}) };
  }
  const [header, ...rows] = records;
  if (!header) return { ok: true, devices: [] };

  const names = header.record.map((name) => name.trim().toLowerCase());
  const unknown = header.record.filter((_, i) => !(names[i]! in CSV_COLUMNS));
  if (unknown.length) {
    return {
      ok: false,
      kind: "columns",
      message: `unknown column(s) ${unknown.map((c) => `'${c}'`).join(", ")}; the columns are ${Object.keys(CSV_COLUMNS).length} at most: ${REQUIRED_COLUMNS.join(", ")}, Group Tag, Assigned User`,
    };
  }
  const missing = REQUIRED_COLUMNS.filter((c) => !names.includes(c.toLowerCase()));
  if (missing.length) {
    return { ok: false, kind: "columns", message: `missing column(s) ${missing.map((c) => `'${c}'`).join(", ")}` };
  }
  const duplicated = names.filter((n, i) => names.indexOf(n) !== i);
  if (duplicated.length) {
    return { ok: false, kind: "columns", message: `column(s) named twice: ${[...new Set(duplicated)].map((c) => `'${c}'`).join(", ")}` };
  }

  const devices = rows.map(({ record, line }) => {
    const fields: Record<string, string> = {};
    record.forEach((value, i) => {
      const field = CSV_COLUMNS[names[i] as keyof typeof CSV_COLUMNS];
      if (value !== "") fields[field] = value;
    });
    return { line, fields };
  });
  return { ok: true, devices };
}

function csvErrorMessage(error: Error & { code?: string }): string {
  switch (error.code) {
    case "CSV_RECORD_INCONSISTENT_FIELDS_LENGTH":
      return "a row has a different number of fields than the header";
    case "CSV_QUOTE_NOT_CLOSED":
      return "a quoted field is never closed";
    case "CSV_INVALID_CLOSING_QUOTE":
      return "a quote closes a field but more text follows it";
    default:
      return error.message.replace(/:.*$/s, "");
  }
}
