import type { DeviceEntity } from "../storage/importEntities.js";
import { deviceWarnings } from "./statusViews.js";

/** The spreadsheet of a batch's outcomes: public columns only, never the hash, product key or UPN. */
export const DEVICE_CSV_COLUMNS = [
  "index",
  "serialNumber",
  "manufacturer",
  "model",
  "warnings",
  "state",
  "attempts",
  "graphId",
  "importStatus",
  "errorCode",
  "errorName",
  "errorMessage",
  "graphRequestId",
  "graphClientRequestId",
  "updatedAt",
] as const satisfies readonly (keyof DeviceEntity)[];

export const CSV_CONTENT_TYPE = "text/csv; charset=utf-8";
/** Excel opens a UTF-8 file as UTF-8 only with a byte order mark. */
const BOM = "\uFEFF";

/**
 * One cell, safe to open in a spreadsheet: a value that a spreadsheet would run as a formula
 * (starting with =, +, -, @, or a tab or carriage return that hides one) gets a leading
 * apostrophe (OWASP's CSV injection advice), and a cell with a separator, quote or line break
 * is quoted (RFC 4180).
 */
export function csvCell(value: unknown): string {
  if (value === undefined || value === null) return "";
  let text = String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvHeader(): string {
  return BOM + DEVICE_CSV_COLUMNS.join(",") + "\r\n";
}

export function csvRow(device: Partial<DeviceEntity>): string {
  return (
    DEVICE_CSV_COLUMNS.map((column) => csvCell(column === "warnings" ? warningCodes(device.warnings) : device[column])).join(",") + "\r\n"
  );
}

/** Warning codes separated by ';' (one cell a spreadsheet can filter on), not the stored JSON. */
function warningCodes(column: string | undefined): string | undefined {
  return column === undefined
    ? undefined
    : deviceWarnings(column)
        .map((w) => w.code)
        .join(";");
}

/**
 * Whether the caller's Accept header prefers CSV to JSON (RFC 9110 §12.5.1: the most specific
 * matching range gives each type its quality; on a tie JSON, the API's own format, wins).
 */
export function prefersCsv(accept: string | null): boolean {
  if (!accept) return false;
  const ranges = accept.split(",").flatMap((part) => {
    const [range, ...params] = part.trim().toLowerCase().split(";");
    if (!range) return [];
    const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    const quality = q === undefined ? 1 : Number(q.slice(2));
    return [{ range: range.trim(), quality: Number.isFinite(quality) ? quality : 0 }];
  });
  const qualityOf = (type: string, subtypes: readonly string[]) => {
    const [main] = type.split("/");
    for (const candidate of [...subtypes.map((s) => `${main}/${s}`), `${main}/*`, "*/*"]) {
      const match = ranges.find((r) => r.range === candidate);
      if (match) return match.quality;
    }
    return 0;
  };
  const csv = qualityOf("text/csv", ["csv"]);
  const json = qualityOf("application/json", ["json", "problem+json"]);
  return csv > 0 && csv > json;
}
