import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { base64Problem, decodedBase64Length } from "../../src/model/base64.js";
import { decodeText } from "../../src/intake/decodeText.js";
import { isTenantId, isUserPrincipalName } from "../../src/model/fieldRules.js";
import { findDuplicates } from "../../src/intake/findDuplicates.js";
import { readMediaType } from "../../src/intake/mediaType.js";
import { closestName, displayName } from "../../src/intake/suggest.js";

describe("strict base64", () => {
  it("accepts exactly what Buffer encodes, and knows its decoded length", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const text = Buffer.from(bytes).toString("base64");
        expect(base64Problem(text)).toBeUndefined();
        expect(decodedBase64Length(text)).toBe(bytes.length);
      }),
    );
  });

  it.each([
    ["QUJD RA==", /whitespace/],
    ["QUJDRA=", /multiple of 4/],
    ["QUJDRA", /multiple of 4/],
    ["QU-DRA==", /URL-safe/],
    ["QUJD$A==", /outside the base64 alphabet/],
    ["QU=DRA==", /wrong place/],
    ["QUJ=RA==", /wrong place/],
    ["QUJDR===", /more than two/],
    ["QUJDRé==", /outside the base64 alphabet/],
  ])("%j: %s", (value, message) => {
    expect(base64Problem(value)).toMatch(message);
  });

  it("never quotes the value", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 8 }), (value) => {
        const problem = base64Problem(`${value}!`);
        expect(problem).toBeDefined();
        expect(problem).not.toContain(value);
      }),
    );
  });
});

describe("tenant ids and UPNs", () => {
  it.each(["72f988bf-86f1-41af-91ab-2d7cd011db47", "contoso.onmicrosoft.com", "contoso.com", "a-b.co.uk"])("tenant %s", (v) =>
    expect(isTenantId(v)).toBe(true),
  );
  it.each([
    "contoso",
    "72f988bf86f141af91ab2d7cd011db47",
    "contoso..com",
    "-contoso.com",
    "contoso.c0m",
    "con toso.com",
    `${"a".repeat(64)}.com`,
  ])("not a tenant %s", (v) => expect(isTenantId(v)).toBe(false));
  it.each(["alex@contoso.com", "alex.wilber@contoso.onmicrosoft.com", "o'neil_j-2@sub.contoso.co.uk", "a+b@contoso.com"])("UPN %s", (v) =>
    expect(isUserPrincipalName(v)).toBe(true),
  );
  it.each([
    "alex",
    "alex@",
    "@contoso.com",
    "alex@contoso",
    "al ex@contoso.com",
    "a@b@contoso.com",
    "alex.@contoso.com",
    "a..b@contoso.com",
    `${"a".repeat(65)}@contoso.com`,
  ])("not a UPN %s", (v) => expect(isUserPrincipalName(v)).toBe(false));
});

describe("findDuplicates", () => {
  it("names the first occurrence, ignores non-strings and blanks", () => {
    expect(
      findDuplicates([
        { serialNumber: "A", hardwareIdentifier: "h1" },
        { serialNumber: " a ", hardwareIdentifier: "h2" },
        null,
        { serialNumber: 5, hardwareIdentifier: "h1 " },
        { serialNumber: "", hardwareIdentifier: "" },
        { serialNumber: "", hardwareIdentifier: "" },
        { serialNumber: "A" },
      ]),
    ).toEqual([
      { index: 1, field: "serialNumber", duplicateOf: 0 },
      { index: 3, field: "hardwareIdentifier", duplicateOf: 0 },
      { index: 6, field: "serialNumber", duplicateOf: 0 },
    ]);
  });
});

describe("did you mean", () => {
  const fields = [
    "serialNumber",
    "hardwareIdentifier",
    "productKey",
    "groupTag",
    "assignedUserPrincipalName",
    "orderIdentifier",
    "importId",
  ];
  it.each([
    ["serialnumber", "serialNumber"],
    ["serial_number", "serialNumber"],
    ["SerialNumber", "serialNumber"],
    ["serialNumbr", "serialNumber"],
    ["grouptag", "groupTag"],
    ["hardwareIdentifer", "hardwareIdentifier"],
    ["colour", undefined],
    ["x", undefined],
  ])("%s → %s", (input, expected) => {
    expect(closestName(input, fields)).toBe(expected);
  });

  it("shows names, but not what looks like a value in the wrong place", () => {
    expect(displayName("serialnumber")).toBe("serialnumber");
    expect(displayName("alex@contoso.com")).toBe("(a 16-character name)");
    expect(displayName("BCDFG-HJKMP-QRTVW-XY234-6789B")).toBe("(a 29-character name)");
    expect(displayName("A".repeat(65))).toBe("(a 65-character name)");
  });
});

describe("decodeText", () => {
  const text = "Device Serial Number,Hardware Hash\r\nSN-é,QUJD\r\n";
  it.each([
    ["UTF-8", Buffer.from(text)],
    ["UTF-8 BOM", Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)])],
    ["UTF-16 LE BOM", Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, "utf16le")])],
    ["UTF-16 BE BOM", Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, "utf16le").swap16()])],
  ])("decodes %s and drops the BOM", (_, body) => {
    expect(decodeText(body)).toMatchObject({ ok: true, text });
  });

  it("prefers the BOM to a declared charset, honours the charset without one, and refuses unknown ones", () => {
    expect(decodeText(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, "utf16le")]), "utf-8")).toMatchObject({ ok: true, text });
    expect(decodeText(Buffer.from(text, "latin1"), "windows-1252")).toMatchObject({ ok: true, text, encoding: "windows-1252" });
    expect(decodeText(Buffer.from(text), "no-such-charset")).toEqual({ ok: false, reason: "unsupported-charset" });
  });

  it("refuses invalid UTF-8 and says on which line", () => {
    expect(decodeText(Buffer.from(text, "latin1"))).toEqual({ ok: false, reason: "invalid", encoding: "utf-8", line: 2 });
  });
});

describe("readMediaType", () => {
  it.each([
    ["application/json", "json", undefined],
    [" Application/Problem+JSON ; charset=UTF-16LE", "json", "UTF-16LE"],
    ['text/csv;charset="utf-8"', "csv", "utf-8"],
    ["application/csv", "csv", undefined],
  ])("%s", (header, kind, charset) => {
    expect(readMediaType(header)).toEqual({ kind, essence: header.split(";")[0]!.trim().toLowerCase(), ...(charset ? { charset } : {}) });
  });

  it.each([undefined, "", "text/plain", "application/jsonx", "text/csv2", "application/+json", "json"])("refuses %j", (header) => {
    expect(readMediaType(header)).toBeUndefined();
  });
});
