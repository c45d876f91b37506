/**
 * The hardware-hash CSV written by Get-WindowsAutopilotInfo, read the way real files look:
 *
 * - header `Device Serial Number,Windows Product ID,Hardware Hash`, optionally `Group Tag` and
 *   `Assigned User`; names match ignoring case and spaces, columns come in any order. Only the
 *   serial and hash columns are required (the product ID is usually empty anyway). Unknown,
 *   repeated or missing columns refuse the file, by name. A column with an empty name is
 *   allowed if all its cells are empty too (a trailing comma).
 * - a first line `#TYPE …` (Export-Csv without -NoTypeInformation) is skipped;
 * - CRLF, LF or CR line ends, quoted fields, whitespace around fields, blank lines (or lines of
 *   bare commas) anywhere are skipped;
 * - ',' separates fields; a header with no ',' but ';' or tabs (Export-Csv -UseCulture) sets
 *   that separator instead;
 * - a row with more or fewer fields than the header (other than trailing empty ones) refuses the
 *   file, naming the line.
 *
 * Line numbers are the file's own, 1-based: the header of an ordinary file is line 1. Nothing
 * here quotes a cell: cells hold hashes, product keys and UPNs.
 */
import { parse } from "csv-parse/sync";
import { problem, ProblemType, type FieldProblem, type ProblemDetails } from "../http/problem.js";
import { displayName, unknownNameMessage } from "./suggest.js";

export const CSV_COLUMNS = [
  { header: "Device Serial Number", field: "serialNumber", required: true },
  { header: "Windows Product ID", field: "productKey", required: false },
  { header: "Hardware Hash", field: "hardwareIdentifier", required: true },
  { header: "Group Tag", field: "groupTag", required: false },
  { header: "Assigned User", field: "assignedUserPrincipalName", required: false },
] as const;

/** One column a CSV layout knows: its header, the field its cells fill, whether a file must have it. */
export interface CsvColumn {
  header: string;
  field: string;
  required: boolean;
}

/** Which columns a kind of CSV has, the other names people give them, and what its header line is called in messages. */
export interface CsvLayout {
  name: string;
  columns: readonly CsvColumn[];
  aliases: Readonly<Record<string, string>>;
}

const COLUMN_ALIASES: Readonly<Record<string, string>> = {
  "Serial Number": "Device Serial Number",
  Serial: "Device Serial Number",
  serialNumber: "Device Serial Number",
  Hash: "Hardware Hash",
  "Hardware ID": "Hardware Hash",
  hardwareIdentifier: "Hardware Hash",
  "Product Key": "Windows Product ID",
  "Product ID": "Windows Product ID",
  productKey: "Windows Product ID",
  UPN: "Assigned User",
  User: "Assigned User",
  "Assigned User Principal Name": "Assigned User",
  Tag: "Group Tag",
  "Order ID": "Group Tag",
};

/** The hardware-hash CSV of POST /api/imports. */
export const IMPORT_CSV: CsvLayout = { name: "Autopilot CSV", columns: CSV_COLUMNS, aliases: COLUMN_ALIASES };

export interface CsvDevices {
  /** Each device's cells by device field name (serialNumber, …), not yet validated. */
  devices: Record<string, string>[];
  /** The line each device starts on. */
  lines: number[];
}

export type CsvOutcome = ({ ok: true } & CsvDevices) | { ok: false; problem: ProblemDetails };

interface Row {
  cells: string[];
  line: number;
}

const squash = (name: string) => name.toLowerCase().replace(/[\s_-]+/g, "");

export function readCsvBody(text: string, layout: CsvLayout = IMPORT_CSV): CsvOutcome {
  const normalized = text.replace(/\r\n?/g, "\n");
  const rowsOutcome = readRows(normalized);
  if (!rowsOutcome.ok) return rowsOutcome;
  const rows = rowsOutcome.rows.filter((row) => row.cells.some((cell) => cell !== ""));
  if (rows[0]?.cells[0]?.toUpperCase().startsWith("#TYPE")) rows.shift();

  const [header, ...data] = rows;
  if (header === undefined) {
    return { ok: false, problem: problem(ProblemType.noDevices, 400, "No devices", "The CSV is empty: no header line and no devices.") };
  }
  const columns = readHeader(header, layout);
  if (!columns.ok) return columns;

  const devices: Record<string, string>[] = [];
  const lines: number[] = [];
  const badRows: Row[] = [];
  for (const row of data) {
    if (!fitsHeader(row, header.cells.length)) {
      badRows.push(row);
      continue;
    }
    const device: Record<string, string> = {};
    columns.map.forEach((column, index) => {
      const cell = row.cells[index] ?? "";
      if (column === "unnamed") {
        if (cell !== "" && !columns.unnamedWithData.includes(index)) columns.unnamedWithData.push(index);
      } else {
        device[column.field] = cell;
      }
    });
    devices.push(device);
    lines.push(row.line);
  }
  const firstBad = badRows[0];
  if (firstBad !== undefined) {
    const others = badRows.length - 1;
    return malformed(
      `line ${firstBad.line} has ${firstBad.cells.length} fields where the header has ${header.cells.length}` +
        (others > 0 ? ` (and ${others} more line${others === 1 ? "" : "s"} like it)` : ""),
      firstBad.line,
      { badLineCount: badRows.length },
    );
  }
  if (columns.unnamedWithData.length > 0) {
    return columnProblem(
      layout,
      header.line,
      columns.unnamedWithData.map((index) => ({
        line: header.line,
        field: `(column ${index + 1})`,
        message: "this column has no name in the header but holds values",
      })),
      [],
      columns.unnamedWithData.map((index) => `(column ${index + 1})`),
    );
  }
  return { ok: true, devices, lines };
}

function readRows(text: string): { ok: true; rows: Row[] } | { ok: false; problem: ProblemDetails } {
  let lastCompleteLine = 0;
  const startLines: number[] = [];
  try {
    const records = parse(text, {
      delimiter: detectDelimiter(text),
      record_delimiter: "\n",
      relax_column_count: true,
      skip_empty_lines: true,
      trim: true,
      on_record: (cells, context) => {
        lastCompleteLine = context.lines;
        // context.lines is where the record ends; a quoted cell may span lines.
        const spanned = cells.reduce((sum, cell) => sum + (cell.match(/\n/g)?.length ?? 0), 0);
        startLines.push(context.lines - spanned);
        return cells;
      },
    });
    return { ok: true, rows: records.map((cells, i) => ({ cells: cells.map((cell) => cell.trim()), line: startLines[i] ?? 0 })) };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const reported = Number((error as { lines?: unknown }).lines);
    if (code === "CSV_QUOTE_NOT_CLOSED") {
      const opening = lineOfNextQuote(text, lastCompleteLine) ?? lastCompleteLine + 1;
      return malformed(`a quoted field opened on line ${opening} is never closed`, opening);
    }
    const line = Number.isInteger(reported) && reported > 0 ? reported : lastCompleteLine + 1;
    const why: Record<string, string> = {
      CSV_INVALID_CLOSING_QUOTE: `line ${line} has text right after a closing quote`,
      CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE: `line ${line} has text right after a closing quote`,
      INVALID_OPENING_QUOTE: `line ${line} has a quote inside an unquoted field`,
    };
    return malformed(why[String(code)] ?? `line ${line} could not be read`, line);
  }
}

/** The line of the first '"' after line `afterLine` (where an unclosed quoted field opens). */
function lineOfNextQuote(text: string, afterLine: number): number | undefined {
  let line = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "\n") line++;
    else if (c === '"' && line > afterLine) return line;
  }
  return undefined;
}

/** ',' unless the header line has none and has ';' or tabs (Export-Csv -UseCulture in many locales). */
function detectDelimiter(text: string): string {
  const headerLine =
    text
      .split("\n", 20)
      .map((line) => line.trim())
      .find((line) => line !== "" && !line.toUpperCase().startsWith("#TYPE")) ?? "";
  const unquoted = headerLine.replace(/"[^"]*"/g, "");
  if (unquoted.includes(",")) return ",";
  if (unquoted.includes(";")) return ";";
  if (unquoted.includes("\t")) return "\t";
  return ",";
}

function fitsHeader(row: Row, width: number): boolean {
  if (row.cells.length === width) return true;
  return row.cells.length > width && row.cells.slice(width).every((cell) => cell === "");
}

type HeaderOutcome = { ok: true; map: (CsvColumn | "unnamed")[]; unnamedWithData: number[] } | { ok: false; problem: ProblemDetails };

function readHeader(header: Row, layout: CsvLayout): HeaderOutcome {
  const map: (CsvColumn | "unnamed")[] = [];
  const unknown: FieldProblem[] = [];
  const seen = new Set<CsvColumn>();
  const repeated = new Set<string>();
  header.cells.forEach((name) => {
    if (name === "") {
      map.push("unnamed");
      return;
    }
    const column = layout.columns.find((c) => squash(c.header) === squash(name));
    if (column === undefined) {
      unknown.push({
        line: header.line,
        field: displayName(name),
        message: unknownNameMessage(
          "column",
          name,
          layout.columns.map((c) => c.header),
          layout.aliases,
        ),
      });
      map.push("unnamed");
      return;
    }
    if (seen.has(column)) repeated.add(column.header);
    seen.add(column);
    map.push(column);
  });

  if (seen.size === 0) {
    // Probably no header at all, the first line being a device: say so without quoting its cells.
    const optional = layout.columns.filter((c) => !c.required).map((c) => c.header);
    return malformedHeader(
      layout,
      header.line,
      `line ${header.line} is not the ${layout.name} header; the first line must name the columns: ${layout.columns.map((c) => c.header).join(", ")}` +
        (optional.length > 0 ? ` (optional: ${optional.join(", ")})` : ""),
    );
  }
  const missing = layout.columns.filter((c) => c.required && !seen.has(c)).map((c) => c.header);
  const problems = [
    ...unknown,
    ...[...repeated].map((name) => ({ line: header.line, field: name, message: `column '${name}' appears more than once` })),
    ...missing.map((name) => ({ line: header.line, field: name, message: `required column '${name}' is missing` })),
  ];
  if (problems.length > 0)
    return columnProblem(
      layout,
      header.line,
      problems,
      missing,
      unknown.map((p) => p.field),
      [...repeated],
    );
  return { ok: true, map, unnamedWithData: [] };
}

function columnProblem(
  layout: CsvLayout,
  line: number,
  errors: FieldProblem[],
  missing: string[],
  unknown: string[],
  repeated: string[] = [],
): { ok: false; problem: ProblemDetails } {
  const parts = [
    unknown.length ? `unknown column${unknown.length === 1 ? "" : "s"} ${unknown.map((n) => `'${n}'`).join(", ")}` : "",
    repeated.length ? `repeated column${repeated.length === 1 ? "" : "s"} ${repeated.map((n) => `'${n}'`).join(", ")}` : "",
    missing.length ? `missing column${missing.length === 1 ? "" : "s"} ${missing.map((n) => `'${n}'`).join(", ")}` : "",
  ].filter(Boolean);
  return {
    ok: false,
    problem: problem(
      ProblemType.malformedBody,
      400,
      "Unexpected CSV columns",
      `The CSV header (line ${line}) has ${parts.join("; ")}. Expected: ${layout.columns.map((c) => c.header).join(", ")}.`,
      {
        line,
        errors,
        ...(unknown.length ? { unknownColumns: unknown } : {}),
        ...(missing.length ? { missingColumns: missing } : {}),
        expectedColumns: layout.columns.map((c) => c.header),
      },
    ),
  };
}

function malformedHeader(layout: CsvLayout, line: number, detail: string): { ok: false; problem: ProblemDetails } {
  return {
    ok: false,
    problem: problem(ProblemType.malformedBody, 400, "Malformed CSV", `The CSV could not be read: ${detail}.`, {
      line,
      expectedColumns: layout.columns.map((c) => c.header),
    }),
  };
}

function malformed(detail: string, line: number, extensions: Record<string, unknown> = {}): { ok: false; problem: ProblemDetails } {
  return {
    ok: false,
    problem: problem(ProblemType.malformedBody, 400, "Malformed CSV", `The CSV could not be read: ${detail}.`, { line, ...extensions }),
  };
}
