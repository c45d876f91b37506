import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { lineAndColumn } from "../../src/intake/decodeText.js";
import { describeJsonSyntaxError, scanJson } from "../../src/intake/jsonSyntax.js";
import { errorMessage } from "../../src/model/errorMessage.js";

const parses = (text: string) => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};

describe("scanJson", () => {
  it("agrees with JSON.parse on what is JSON, for random and mutated texts", () => {
    const mutatedJson = fc
      .tuple(
        fc.jsonValue().map((v) => JSON.stringify(v, null, 1)),
        fc.nat(),
        fc.nat(3),
        fc.string({ maxLength: 3 }),
      )
      .map(([text, at, cut, insert]) => {
        const i = at % (text.length + 1);
        return text.slice(0, i) + insert + text.slice(i + cut);
      });
    fc.assert(
      fc.property(
        fc.oneof(
          mutatedJson,
          fc.jsonValue().map((v) => JSON.stringify(v)),
          fc.string({ unit: fc.constantFrom(...'{}[]:,"\\ \t\r\n01-.eEtrufalsn') }),
        ),
        (text) => {
          expect(scanJson(text) === undefined).toBe(parses(text));
        },
      ),
      { numRuns: 3_000 },
    );
  });

  it("finds the offset Node reports, where Node reports one", () => {
    fc.assert(
      fc.property(
        fc.jsonValue().map((v) => JSON.stringify(v)),
        fc.nat(),
        fc.constantFrom(",", "}", "]", ":", "\t", "x"),
        (text, at, insert) => {
          const i = at % (text.length + 1);
          const broken = text.slice(0, i) + insert + text.slice(i);
          let message: string;
          try {
            JSON.parse(broken);
            return;
          } catch (error) {
            message = errorMessage(error);
          }
          const reported = /at position (\d+)/.exec(message);
          if (reported) expect(scanJson(broken)?.offset).toBe(Number(reported[1]));
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it("handles deep nesting without recursion", () => {
    expect(scanJson("[".repeat(1_000_000) + "]".repeat(1_000_000))).toBeUndefined();
    expect(scanJson("[".repeat(1_000_000))).toEqual({ offset: 1_000_000, reason: "unexpected end of input" });
  });
});

describe("describeJsonSyntaxError", () => {
  const describeText = (text: string) => {
    try {
      JSON.parse(text);
    } catch (error) {
      return describeJsonSyntaxError(text, error);
    }
    throw new Error("expected invalid JSON");
  };

  it.each([
    ['{"a": tru}', 1, 7, "unexpected character"],
    ['{"a":\n  "b\tc"}', 2, 5, "bad control character in string literal"],
    ['{"a": 1,\r\n}', 2, 1, "expected double-quoted property name"],
    ['{"a": "\\x"}', 1, 9, "bad escaped character"],
    ["[1, 2", 1, 6, "expected ',' or ']' after array element"],
    ['"\\', 1, 3, "unterminated string"],
    ["\u00e9", 1, 1, "unexpected character"],
  ])("%j → line %i, column %i: %s", (text, line, column, reason) => {
    expect(describeText(text)).toMatchObject({ line, column, reason: expect.stringContaining(reason) });
  });

  it("uses no text from V8's message beyond a fixed reason", () => {
    const secret = "SECRETSECRETSECRET";
    const result = describeText(`{"hardwareIdentifier": ${secret}}`);
    expect(JSON.stringify(result)).not.toContain("SECRET");
  });
});

describe("lineAndColumn", () => {
  it("counts CRLF, LF and lone CR as one line end each", () => {
    const text = "ab\r\ncd\nef\rgh";
    expect(lineAndColumn(text, text.indexOf("d"))).toEqual({ line: 2, column: 2 });
    expect(lineAndColumn(text, text.indexOf("f"))).toEqual({ line: 3, column: 2 });
    expect(lineAndColumn(text, text.indexOf("h"))).toEqual({ line: 4, column: 2 });
    expect(lineAndColumn(text, 0)).toEqual({ line: 1, column: 1 });
  });
});
