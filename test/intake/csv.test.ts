import { describe, expect, it } from "vitest";
import { ProblemType } from "../../src/http/problem.js";
import { makeCsv, makeDevices, makeHash, withHashFacts, type CsvOptions } from "../support/devices.js";
import { CSV_HEADER, limits, ok, parse, postCsv, problemOf } from "./helpers.js";

const devices = [
  { ...makeDevices(1, "CSV")[0]!, groupTag: "Sales", assignedUserPrincipalName: "alex@contoso.com", productKey: "00330-80000-00000-AA123" },
  ...makeDevices(2, "CSW"),
];

describe("CSV files as they are found in practice", () => {
  it.each([
    ["UTF-8", { encoding: "utf8" as const }],
    ["UTF-8 with BOM", { encoding: "utf8bom" as const }],
    ["UTF-16 LE with BOM and CRLF (Windows PowerShell's Out-File)", { encoding: "utf16le" as const, eol: "\r\n" as const }],
    ["UTF-16 LE with BOM, quoted, LF", { encoding: "utf16le" as const, eol: "\n" as const, quoted: true }],
    ["UTF-16 BE with BOM", { encoding: "utf16be" as const }],
    ["LF line ends", { eol: "\n" as const }],
    ["quoted fields (Export-Csv)", { quoted: true }],
    ["blank trailing lines", { trailingBlankLines: 3 }],
    ["UTF-16 LE, quoted, CRLF, blank trailing lines", { encoding: "utf16le" as const, quoted: true, trailingBlankLines: 2 }],
    ["only the three usual columns", { optionalColumns: false }],
  ])("reads %s", (_, options: CsvOptions) => {
    const outcome = ok(postCsv(makeCsv(devices, options), "groupTag=Default&orderIdentifier=PO-7&tenantId=contoso.onmicrosoft.com"));
    expect(outcome.source).toBe("csv");
    expect(outcome.lines).toEqual([2, 3, 4]);
    expect(outcome.request.tenantId).toBe("contoso.onmicrosoft.com");
    expect(outcome.request.devices.map((d) => [d.serialNumber, d.hardwareIdentifier])).toEqual(
      devices.map((d) => [d.serialNumber, d.hardwareIdentifier]),
    );
    expect(outcome.request.devices[0]).toMatchObject({ productKey: "00330-80000-00000-AA123", orderIdentifier: "PO-7" });
    if (options.optionalColumns !== false) {
      expect(outcome.request.devices[0]).toMatchObject({ groupTag: "Sales", assignedUserPrincipalName: "alex@contoso.com" });
    }
    expect(outcome.request.devices[1]).toEqual(withHashFacts({ ...devices[1], groupTag: "Default", orderIdentifier: "PO-7" }));
  });

  it("accepts application/csv too, and a charset parameter", () => {
    expect(ok(parse("application/csv", makeCsv(devices))).request.devices).toHaveLength(3);
    expect(ok(parse("text/csv; charset=utf-8; header=present", makeCsv(devices))).request.devices).toHaveLength(3);
  });

  it("matches header names ignoring case, surrounding space and inner spacing, in any order", () => {
    const d = devices[1]!;
    const text = ` hardware hash ,DEVICE SERIAL NUMBER,  windows   product id,GroupTag\r\n${d.hardwareIdentifier},${d.serialNumber},,\r\n`;
    expect(ok(postCsv(text)).request.devices).toEqual([
      withHashFacts({ serialNumber: d.serialNumber, hardwareIdentifier: d.hardwareIdentifier }),
    ]);
  });

  it("needs only the serial and hash columns", () => {
    const d = devices[1]!;
    expect(ok(postCsv(`Device Serial Number,Hardware Hash\n${d.serialNumber},${d.hardwareIdentifier}\n`)).request.devices).toHaveLength(1);
  });

  it("trims whitespace around fields, inside and outside quotes", () => {
    const d = devices[1]!;
    const text = `${CSV_HEADER}   \r\n  "${d.serialNumber}  " , ,"${d.hardwareIdentifier}"\t\r\n`;
    expect(ok(postCsv(text)).request.devices).toEqual([
      withHashFacts({ serialNumber: d.serialNumber, hardwareIdentifier: d.hardwareIdentifier }),
    ]);
  });

  it("skips blank lines anywhere (leading, between rows, whitespace-only, bare commas) and keeps the file's line numbers", () => {
    const [a, b] = devices;
    const text = `\r\n${CSV_HEADER}\r\n\r\n${a!.serialNumber},,${a!.hardwareIdentifier}\r\n   \r\n,,\r\n${b!.serialNumber},,${b!.hardwareIdentifier}\r\n\r\n\r\n`;
    expect(ok(postCsv(text)).lines).toEqual([4, 7]);
  });

  it("mixes CRLF, LF and lone CR line ends without losing count", () => {
    const [a, b, c] = devices;
    const text = `${CSV_HEADER}\r\n${a!.serialNumber},,${a!.hardwareIdentifier}\n${b!.serialNumber},,${b!.hardwareIdentifier}\r${c!.serialNumber},,${c!.hardwareIdentifier}`;
    expect(ok(postCsv(text)).lines).toEqual([2, 3, 4]);
  });

  it("skips a leading #TYPE line (Export-Csv without -NoTypeInformation)", () => {
    const body = Buffer.concat([Buffer.from("#TYPE System.Management.Automation.PSCustomObject\r\n"), makeCsv(devices, { quoted: true })]);
    expect(ok(postCsv(body)).lines).toEqual([3, 4, 5]);
  });

  it("reads ';'-separated files (Export-Csv -UseCulture)", () => {
    const d = devices[1]!;
    const text = `"Device Serial Number";"Windows Product ID";"Hardware Hash"\r\n"${d.serialNumber}";"";"${d.hardwareIdentifier}"\r\n`;
    expect(ok(postCsv(text)).request.devices).toHaveLength(1);
  });

  it("allows a trailing comma on every line (an empty, unnamed column)", () => {
    const d = devices[1]!;
    expect(ok(postCsv(`${CSV_HEADER},\n${d.serialNumber},,${d.hardwareIdentifier},\n`)).request.devices).toHaveLength(1);
    expect(ok(postCsv(`${CSV_HEADER}\n${d.serialNumber},,${d.hardwareIdentifier},\n`)).request.devices).toHaveLength(1);
  });
});

describe("CSV problems", () => {
  it("reports each device problem with the device's line, counting the header as line 1 and blank lines too", () => {
    const text = `${CSV_HEADER}\r\nA,,${makeHash(1)}\r\n\r\n,,${makeHash(2)}\r\nB,,${makeHash(3).slice(0, 1_001)}\r\n`;
    expect(problemOf(postCsv(text)).errors).toEqual([
      { device: 1, line: 4, field: "serialNumber", message: "required" },
      { device: 2, line: 5, field: "hardwareIdentifier", message: expect.stringMatching(/not a multiple of 4/), code: "hash-not-base64" },
    ]);
  });

  it("names the first device's line in a duplicate", () => {
    const text = `${CSV_HEADER}\n\nA,,${makeHash(1)}\nB,,${makeHash(2)}\na,,${makeHash(3)}\n`;
    expect(problemOf(postCsv(text)).errors).toEqual([
      { device: 2, line: 5, field: "serialNumber", message: "same serial number as device 0 (line 3)" },
    ]);
  });

  it("checks batch fields from the query string", () => {
    expect(problemOf(postCsv(makeCsv(devices), "tenantId=contoso")).errors).toEqual([
      { field: "tenantId", message: expect.stringMatching(/\(in the query string\)$/) },
    ]);
  });

  it("names unknown columns, with a suggestion, and missing ones", () => {
    const p = problemOf(postCsv(`Device Serial Number,Serial Number,Hash,Colour\r\nA,B,C,D\r\n`));
    expect(p).toMatchObject({
      status: 400,
      type: ProblemType.malformedBody,
      line: 1,
      unknownColumns: ["Serial Number", "Hash", "Colour"],
      missingColumns: ["Hardware Hash"],
    });
    expect(p.detail).toMatch(/unknown columns 'Serial Number', 'Hash', 'Colour'; missing column 'Hardware Hash'/);
    expect(p.errors).toEqual([
      { line: 1, field: "Serial Number", message: "unknown column 'Serial Number'; did you mean 'Device Serial Number'?" },
      { line: 1, field: "Hash", message: "unknown column 'Hash'; did you mean 'Hardware Hash'?" },
      { line: 1, field: "Colour", message: expect.stringMatching(/^unknown column 'Colour'; expected one of 'Device Serial Number'/) },
      { line: 1, field: "Hardware Hash", message: "required column 'Hardware Hash' is missing" },
    ]);
  });

  it("refuses a column given twice", () => {
    const p = problemOf(postCsv(`${CSV_HEADER},Group Tag,group tag\r\nA,,${makeHash(1)},x,y\r\n`));
    expect(p.detail).toMatch(/repeated column 'Group Tag'/);
  });

  it("refuses values in a column with no name", () => {
    const p = problemOf(postCsv(`${CSV_HEADER},\r\nA,,${makeHash(1)},surprise\r\n`));
    expect(p).toMatchObject({ status: 400, type: ProblemType.malformedBody, errors: [{ field: "(column 4)" }] });
  });

  it("says a headerless file has no header, without quoting its first line", () => {
    const secretUpn = "first.line.user@contoso.com";
    const hash = makeHash(4);
    const p = problemOf(postCsv(`SN-1,00330-80000-00000-AA123,${hash},Tag,${secretUpn}\r\n`));
    expect(p).toMatchObject({ status: 400, type: ProblemType.malformedBody, line: 1 });
    expect(p.detail).toMatch(/not the Autopilot CSV header/);
    const text = JSON.stringify(p);
    for (const secret of [hash.slice(0, 16), "00330-80000", secretUpn]) expect(text).not.toContain(secret);
  });

  it("answers 400 with the line for a row with the wrong number of fields", () => {
    const text = `${CSV_HEADER}\r\nA,,${makeHash(1)}\r\nB,${makeHash(2)}\r\nC,,x,extra\r\n`;
    const p = problemOf(postCsv(text));
    expect(p).toMatchObject({ status: 400, type: ProblemType.malformedBody, line: 3, badLineCount: 2 });
    expect(p.detail).toBe("The CSV could not be read: line 3 has 2 fields where the header has 3 (and 1 more line like it).");
  });

  it("answers 400 with the line where an unclosed quote opens", () => {
    const text = `${CSV_HEADER}\r\nA,,${makeHash(1)}\r\n\r\n"B,,${makeHash(2)}\r\nC,,${makeHash(3)}\r\n`;
    const p = problemOf(postCsv(text));
    expect(p).toMatchObject({ status: 400, type: ProblemType.malformedBody, line: 4 });
    expect(p.detail).toBe("The CSV could not be read: a quoted field opened on line 4 is never closed.");
  });

  it("answers 400 with the line for stray quotes", () => {
    expect(problemOf(postCsv(`${CSV_HEADER}\nA,,x\n"B"x,,y\n`))).toMatchObject({ status: 400, type: ProblemType.malformedBody, line: 3 });
    expect(problemOf(postCsv(`${CSV_HEADER}\nA,,x\nB,a"b,y\n`))).toMatchObject({ status: 400, type: ProblemType.malformedBody, line: 3 });
  });

  it("refuses bytes that are not UTF-8 when there is no BOM, naming the line", () => {
    const latin1 = Buffer.concat([
      Buffer.from(`${CSV_HEADER}\r\nA,,${makeHash(1)}\r\nB,,${makeHash(2)},Caf`),
      Buffer.from([0xe9]),
      Buffer.from("\r\n"),
    ]);
    const p = problemOf(postCsv(latin1));
    expect(p).toMatchObject({ status: 400, type: ProblemType.malformedBody, encoding: "utf-8", line: 3 });
    expect(p.detail).toMatch(/not valid UTF-8 \(first at line 3\)/);
  });

  it("refuses UTF-16 with a BOM but an odd number of bytes", () => {
    const body = makeCsv(devices, { encoding: "utf16le" });
    expect(problemOf(postCsv(body.subarray(0, body.length - 1)))).toMatchObject({
      status: 400,
      type: ProblemType.malformedBody,
      encoding: "utf-16le",
    });
  });

  it("answers 400 no-devices for a header without rows, and for an empty file", () => {
    for (const body of [
      makeCsv([]),
      makeCsv([], { encoding: "utf16le", trailingBlankLines: 4 }),
      Buffer.alloc(0),
      Buffer.from([0xef, 0xbb, 0xbf, 0x0d, 0x0a]),
    ]) {
      expect(problemOf(postCsv(body))).toMatchObject({ status: 400, type: ProblemType.noDevices });
    }
  });

  it("answers 413 for too many rows before validating any", () => {
    const rows = Array.from({ length: 50_000 }, (_, i) => `SN-${i},,not-a-hash`).join("\r\n");
    const started = performance.now();
    const p = problemOf(postCsv(`${CSV_HEADER}\r\n${rows}\r\n`));
    expect(p).toMatchObject({ status: 413, type: ProblemType.tooManyDevices, deviceCount: 50_000, maxDevices: limits.maxDevices });
    expect(performance.now() - started).toBeLessThan(3_000);
  });
});
