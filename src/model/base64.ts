/**
 * Strict base64 (RFC 4648 §4: standard alphabet, '=' padding, length a multiple of 4, nothing
 * else) as Graph's Edm.Binary expects it. Intake first mends what it safely can (whitespace,
 * missing padding: hardwareHash.ts, canonicalBase64); these messages explain what it could not.
 * They say what is wrong, never what the value is.
 */
const ALPHABET = /^[A-Za-z0-9+/]*$/;
// With the length a multiple of 4, this is exactly strict base64 (one pass over a 4 KB hash).
const STRICT = /^[A-Za-z0-9+/]*={0,2}$/;

/** Why `value` is not strict base64, or undefined when it is. */
export function base64Problem(value: string): string | undefined {
  if (value.length % 4 === 0 && STRICT.test(value)) return undefined;
  if (/\s/.test(value)) return "must be one base64 string without whitespace or line breaks inside";
  if (/[-_]/.test(value)) return "uses the URL-safe base64 alphabet ('-', '_'); use standard base64 ('+', '/')";
  const firstPad = value.indexOf("=");
  const data = firstPad === -1 ? value : value.slice(0, firstPad);
  const padding = firstPad === -1 ? "" : value.slice(firstPad);
  if (!ALPHABET.test(data) || !/^=*$/.test(padding)) {
    return /^[A-Za-z0-9+/=]*$/.test(value)
      ? "has '=' padding in the wrong place (padding may only end the string)"
      : "contains a character outside the base64 alphabet";
  }
  if (padding.length > 2) return "has more than two '=' padding characters";
  if (value.length % 4 !== 0) {
    return `is not valid base64: its length (${value.length}) is not a multiple of 4, and restoring '=' padding cannot make it one (is the value cut short?)`;
  }
  return undefined;
}

/** Bytes that a strict base64 string decodes to (assumes base64Problem(value) is undefined). */
export function decodedBase64Length(value: string): number {
  const padding = value.endsWith("==") ? 2 : value.endsWith("=") ? 1 : 0;
  return (value.length / 4) * 3 - padding;
}
