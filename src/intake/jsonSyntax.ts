/**
 * Where and why a body is not JSON, without quoting it: V8's messages for some errors carry a
 * snippet of the body ("Unexpected token 'S', ..."entifier":SECRET"... is not valid JSON"), which
 * may hold a hash or a product key, so only a position and a fixed reason ever leave here.
 *
 * The offset is the one Node's JSON.parse reports ("… in JSON at position 42"); for the errors
 * where Node 20 reports none, a small strict scanner finds it.
 */
import { lineAndColumn } from "./decodeText.js";

export interface JsonSyntaxError {
  /** UTF-16 offset into the decoded text. */
  offset: number;
  line: number;
  column: number;
  reason: string;
}

export function describeJsonSyntaxError(text: string, error: unknown): JsonSyntaxError {
  const message = error instanceof Error ? error.message : "";
  const reported = /\bat position (\d+)/.exec(message);
  const fromNode = reported ? nodeReason(message) : undefined;
  const scanned = reported && fromNode !== undefined ? undefined : scanJson(text);
  let offset: number;
  if (reported) offset = Number(reported[1]);
  else if (/^Unexpected end of JSON input/.test(message)) offset = text.length;
  else offset = scanned?.offset ?? 0;
  offset = Math.min(Math.max(offset, 0), text.length);
  const reason = fromNode ?? scanned?.reason ?? "invalid JSON";
  return { offset, ...lineAndColumn(text, offset), reason };
}

/** Node's reason when it quotes nothing: "Expected ',' or '}' after property value" and the like. */
function nodeReason(message: string): string | undefined {
  const reason = message.replace(/\s+(?:in JSON )?at position \d+.*$/s, "");
  if (reason === message || reason.length > 80 || !/^[A-Za-z ,:'{}[\]\\-]+$/.test(reason) || /^Unexpected token/.test(reason))
    return undefined;
  return reason.charAt(0).toLowerCase() + reason.slice(1);
}

const ARRAY = 0;
const OBJECT = 1;
const isDigit = (ch: string | undefined) => ch !== undefined && ch >= "0" && ch <= "9";

/** The first syntax error of strict JSON (RFC 8259), or undefined if `text` is JSON. Iterative: nesting depth costs no stack. */
export function scanJson(text: string): { offset: number; reason: string } | undefined {
  const n = text.length;
  const stack: number[] = [];
  let i = 0;
  let state: "value" | "key" | "after" = "value";
  const fail = (offset: number, reason: string) => ({ offset, reason });
  const skipWhitespace = () => {
    for (let c = text.charCodeAt(i); c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d; c = text.charCodeAt(++i));
  };
  const readString = (): { offset: number; reason: string } | undefined => {
    for (i++; i < n;) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return undefined;
      }
      if (c === 0x5c) {
        const escape = text[i + 1];
        if (escape === undefined) break;
        if (escape === "u") {
          for (let j = i + 2; j < i + 6; j++)
            if (!/[0-9a-fA-F]/.test(text[j] ?? "")) return fail(Math.min(j, n), "bad \\u escape in a string");
          i += 6;
        } else if ('"\\/bfnrt'.includes(escape)) i += 2;
        else return fail(i + 1, "bad escape in a string");
        continue;
      }
      if (c < 0x20) return fail(i, "raw control character or line break in a string");
      i++;
    }
    return fail(n, "unterminated string");
  };
  // Positions as V8 reports them: the first character that cannot continue the number.
  const readNumber = (): { offset: number; reason: string } | undefined => {
    if (text[i] === "-") i++;
    if (!isDigit(text[i])) return fail(i, "no number after minus sign");
    if (text[i] === "0") i++;
    else while (isDigit(text[i])) i++;
    if (text[i] === ".") {
      i++;
      if (!isDigit(text[i])) return fail(i, "unterminated fractional number");
      while (isDigit(text[i])) i++;
    }
    if (text[i] === "e" || text[i] === "E") {
      i++;
      if (text[i] === "+" || text[i] === "-") i++;
      if (!isDigit(text[i])) return fail(i, "exponent part is missing a number");
      while (isDigit(text[i])) i++;
    }
    return undefined;
  };

  for (;;) {
    skipWhitespace();
    if (state === "after") {
      const top = stack[stack.length - 1];
      if (top === undefined) return i < n ? fail(i, "unexpected text after the JSON value") : undefined;
      if (i >= n) return fail(n, "unexpected end of input");
      const ch = text[i];
      if (ch === ",") {
        i++;
        state = top === OBJECT ? "key" : "value";
      } else if ((top === OBJECT && ch === "}") || (top === ARRAY && ch === "]")) {
        i++;
        stack.pop();
      } else {
        return fail(i, top === OBJECT ? "expected ',' or '}' after a property value" : "expected ',' or ']' after an array element");
      }
      continue;
    }
    if (i >= n) return fail(n, "unexpected end of input");
    const ch = text[i];
    if (state === "key") {
      if (ch !== '"') return fail(i, "expected a property name in double quotes");
      const error = readString();
      if (error) return error;
      skipWhitespace();
      if (i >= n) return fail(n, "unexpected end of input");
      if (text[i] !== ":") return fail(i, "expected ':' after a property name");
      i++;
      state = "value";
      continue;
    }
    // state === "value"
    state = "after";
    if (ch === "{" || ch === "[") {
      i++;
      skipWhitespace();
      if (text[i] === (ch === "{" ? "}" : "]")) i++;
      else {
        stack.push(ch === "{" ? OBJECT : ARRAY);
        state = ch === "{" ? "key" : "value";
      }
    } else if (ch === '"') {
      const error = readString();
      if (error) return error;
    } else if (ch === "-" || isDigit(ch)) {
      const error = readNumber();
      if (error) return error;
    } else {
      const literal = ["true", "false", "null"].find((word) => text.startsWith(word, i));
      if (literal === undefined) return fail(i, "unexpected character");
      i += literal.length;
    }
  }
}
