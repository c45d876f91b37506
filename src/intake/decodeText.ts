/**
 * Bytes to text the way real Autopilot files arrive. A byte-order mark wins: UTF-8 (often from
 * PowerShell 7 or Notepad), UTF-16 LE (Windows PowerShell 5.1's Out-File default, which is what
 * Get-WindowsAutopilotInfo users mostly send) or UTF-16 BE. Without a BOM, a charset parameter on
 * the Content-Type is honoured when TextDecoder knows it; otherwise the text must be UTF-8.
 * Decoding is fatal: bytes that are not valid in the chosen encoding refuse the body.
 */
export type DecodedText =
  | { ok: true; text: string; encoding: string }
  /** `line` is where the first undecodable byte sits, when it can be told. */
  | { ok: false; reason: "invalid"; encoding: string; line?: number }
  | { ok: false; reason: "unsupported-charset" };

function bomEncoding(body: Buffer): string | undefined {
  if (body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) return "utf-8";
  if (body[0] === 0xff && body[1] === 0xfe) return "utf-16le";
  if (body[0] === 0xfe && body[1] === 0xff) return "utf-16be";
  return undefined;
}

function declaredEncoding(charset: string | undefined): string | undefined | null {
  if (charset === undefined || charset.trim() === "") return undefined;
  try {
    return new TextDecoder(charset.trim()).encoding;
  } catch {
    return null;
  }
}

export function decodeText(body: Buffer, declaredCharset?: string): DecodedText {
  let encoding = bomEncoding(body);
  if (encoding === undefined) {
    const declared = declaredEncoding(declaredCharset);
    if (declared === null) return { ok: false, reason: "unsupported-charset" };
    encoding = declared ?? "utf-8";
  }
  try {
    // A BOM matching the encoding is dropped by TextDecoder itself.
    const text = new TextDecoder(encoding, { fatal: true }).decode(body);
    return { ok: true, text: text.startsWith("\uFEFF") ? text.slice(1) : text, encoding };
  } catch {
    const lenient = new TextDecoder(encoding).decode(body);
    const bad = lenient.indexOf("\uFFFD");
    return bad === -1 ? { ok: false, reason: "invalid", encoding } : { ok: false, reason: "invalid", encoding, line: lineAt(lenient, bad) };
  }
}

/** 1-based line of a UTF-16 offset; CRLF, LF and lone CR each end a line. */
export function lineAt(text: string, offset: number): number {
  return lineAndColumn(text, offset).line;
}

/** 1-based line and column (in UTF-16 code units) of an offset into `text`. */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, text.length);
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a || (c === 0x0d && text.charCodeAt(i + 1) !== 0x0a)) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: end - lineStart + 1 };
}
