/**
 * Turns a request body into text the way real Autopilot CSVs arrive: UTF-8 with or without a
 * BOM, or UTF-16 with a BOM (Windows PowerShell 5.1's `Out-File`/`Export-Csv` default is UTF-16 LE).
 */
export type DecodedText = { ok: true; text: string; encoding: string } | { ok: false; reason: string };

export function decodeText(body: Buffer): DecodedText {
  const [b0, b1, b2] = body;
  try {
    if (b0 === 0xef && b1 === 0xbb && b2 === 0xbf) {
      return { ok: true, text: new TextDecoder("utf-8", { fatal: true }).decode(body.subarray(3)), encoding: "utf-8 (BOM)" };
    }
    if (b0 === 0xff && b1 === 0xfe) {
      return { ok: true, text: new TextDecoder("utf-16le", { fatal: true }).decode(body.subarray(2)), encoding: "utf-16le" };
    }
    if (b0 === 0xfe && b1 === 0xff) {
      return { ok: true, text: new TextDecoder("utf-16be", { fatal: true }).decode(body.subarray(2)), encoding: "utf-16be" };
    }
    return { ok: true, text: new TextDecoder("utf-8", { fatal: true }).decode(body), encoding: "utf-8" };
  } catch {
    return { ok: false, reason: "the body is not valid UTF-8, and has no byte order mark saying it is UTF-16" };
  }
}
