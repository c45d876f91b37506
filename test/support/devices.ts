import { SYNTHETIC_MANUFACTURER, SYNTHETIC_MODEL, syntheticHashBytes } from "../../src/dev/simulator/syntheticHash.js";
import { USUAL_HASH_BYTES } from "../../src/model/hardwareHash.js";

/**
 * A synthetic 4K hardware hash (src/dev/simulator/syntheticHash.ts): valid layout and checksum,
 * different for every seed, naming `serialNumber` inside when given (intake refuses a row whose
 * serial number contradicts its hash's). Where `bytes` is too small for the usual records only
 * the identity records are kept; smaller still, the hash comes back cut to `bytes` (for tests
 * of the size rules, which are judged before the hash is read).
 */
export function makeHash(seed: number = 0, bytes = USUAL_HASH_BYTES, serialNumber?: string): string {
  const device = { seed, size: bytes, ...(serialNumber === undefined ? {} : { serialNumber }) };
  let hash = syntheticHashBytes(device);
  if (hash.length > bytes) hash = syntheticHashBytes({ ...device, minimal: true });
  return hash.subarray(0, bytes).toString("base64");
}

/** A usual-size synthetic hash naming `serialNumber`. */
export function hashFor(serialNumber: string, seed = 0): string {
  return makeHash(seed, USUAL_HASH_BYTES, serialNumber);
}

/** What intake reads from every makeHash hash, beside its serial number. */
export const HASH_FACTS = { manufacturer: SYNTHETIC_MANUFACTURER, model: SYNTHETIC_MODEL } as const;

/** A device as intake returns it: with the manufacturer and model its hash names. */
export function withHashFacts<T extends object>(device: T): T & typeof HASH_FACTS {
  return { ...device, ...HASH_FACTS };
}

export interface CsvDevice {
  serialNumber: string;
  hardwareIdentifier: string;
  productKey?: string;
  groupTag?: string;
  assignedUserPrincipalName?: string;
}

export interface CsvOptions {
  /** utf16le and utf16be carry a BOM, as PowerShell writes them. */
  encoding?: "utf8" | "utf8bom" | "utf16le" | "utf16be";
  eol?: "\r\n" | "\n";
  quoted?: boolean;
  trailingBlankLines?: number;
  /** Include the optional Group Tag and Assigned User columns (default true). */
  optionalColumns?: boolean;
}

/** The CSV Get-WindowsAutopilotInfo writes, with the quirks real files have. */
export function makeCsv(devices: readonly CsvDevice[], options: CsvOptions = {}): Buffer {
  const eol = options.eol ?? "\r\n";
  const withOptional = options.optionalColumns ?? true;
  const cell = (value: string | undefined) => (options.quoted ? `"${(value ?? "").replace(/"/g, '""')}"` : (value ?? ""));
  const header = ["Device Serial Number", "Windows Product ID", "Hardware Hash", ...(withOptional ? ["Group Tag", "Assigned User"] : [])];
  const rows = devices.map((d) =>
    [d.serialNumber, d.productKey, d.hardwareIdentifier, ...(withOptional ? [d.groupTag, d.assignedUserPrincipalName] : [])]
      .map(cell)
      .join(","),
  );
  const text = [header.map(cell).join(","), ...rows].join(eol) + eol + eol.repeat(options.trailingBlankLines ?? 0);
  switch (options.encoding ?? "utf8") {
    case "utf8":
      return Buffer.from(text, "utf8");
    case "utf8bom":
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, "utf8")]);
    case "utf16le":
      return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, "utf16le")]);
    case "utf16be":
      return Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, "utf16le").swap16()]);
  }
}

export function makeDevices(count: number, prefix = "SN"): CsvDevice[] {
  return Array.from({ length: count }, (_, i) => {
    const serialNumber = `${prefix}-${String(i).padStart(5, "0")}`;
    return { serialNumber, hardwareIdentifier: hashFor(serialNumber, hashSeed(prefix, i)) };
  });
}

function hashSeed(prefix: string, i: number): number {
  let h = 0;
  for (const c of prefix) h = (h * 31 + c.charCodeAt(0)) | 0;
  return h * 100_000 + i;
}
