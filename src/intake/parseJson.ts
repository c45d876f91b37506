import { parse as parseTolerant, printParseErrorCode, type ParseError } from "jsonc-parser";

export type JsonOutcome = { ok: true; value: unknown } | { ok: false; message: string; line: number; column: number; offset: number };

const READABLE: Record<string, string> = {
  InvalidSymbol: "unexpected character",
  InvalidNumberFormat: "invalid number",
  PropertyNameExpected: "expected a property name in double quotes",
  ValueExpected: "expected a value",
  ColonExpected: "expected ':'",
  CommaExpected: "expected ','",
  CloseBraceExpected: "expected '}'",
  CloseBracketExpected: "expected ']'",
  EndOfFileExpected: "unexpected text after the JSON value",
  InvalidCommentToken: "comments are not allowed in JSON",
  UnexpectedEndOfComment: "comments are not allowed in JSON",
  UnexpectedEndOfString: "a string is not closed (or holds a raw line break)",
  UnexpectedEndOfNumber: "invalid number",
  InvalidUnicode: "invalid \\u escape",
  InvalidEscapeCharacter: "invalid escape in a string",
  InvalidCharacter: "invalid character in a string",
};

/**
 * Strict JSON (JSON.parse), and for a body that is not JSON, where and why. V8's own messages
 * quote the body, which may hold a hash or product key, so the position is found with
 * jsonc-parser instead and no body text is ever repeated back.
 */
export function parseJsonBody(text: string): JsonOutcome {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    const errors: ParseError[] = [];
    parseTolerant(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
    const first = errors[0];
    const offset = Math.min(first?.offset ?? 0, text.length);
    const { line, column } = lineAndColumn(text, offset);
    const name = first ? printParseErrorCode(first.error) : "InvalidSymbol";
    return { ok: false, message: READABLE[name] ?? "invalid JSON", line, column, offset };
  }
}

export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}
