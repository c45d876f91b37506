import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { parseImportRequest, type ParseOutcome } from "../../src/intake/parseImportRequest.js";
import { DEFAULT_INTAKE_LIMITS } from "../../src/intake/limits.js";
import { ProblemType } from "../../src/http/problem.js";
import { makeCsv, makeDevices, makeHash } from "../support/devices.js";

const limits = DEFAULT_INTAKE_LIMITS;
const json = (body: unknown, query = "") =>
  parseImportRequest({ contentType: "application/json", body: Buffer.from(JSON.stringify(body)), query: new URLSearchParams(query) }, limits);
const csv = (body: Buffer, query = "") => parseImportRequest({ contentType: "text/csv", body, query: new URLSearchParams(query) }, limits);

function ok(outcome: ParseOutcome) {
  if (!outcome.ok) throw new Error(`expected success, got ${JSON.stringify(outcome.problem)}`);
  return outcome;
}
function problemOf(outcome: ParseOutcome) {
  if (outcome.ok) throw new Error("expected a problem");
  return outcome.problem;
}

const device = (i: number, extra: Record<string, unknown> = {}) => ({ serialNumber: `SN-${i}`, hardwareIdentifier: makeHash(i), ...extra });

describe("JSON batches", () => {
  it("applies batch-level groupTag and orderIdentifier to devices that have none", () => {
    const { request } = ok(json({ tenantId: "contoso.onmicrosoft.com", groupTag: "Sales", orderIdentifier: "PO-1", devices: [device(1), device(2, { groupTag: "HR" })] }));
    expect(request.tenantId).toBe("contoso.onmicrosoft.com");
    expect(request.devices.map((d) => [d.groupTag, d.orderIdentifier])).toEqual([
      ["Sales", "PO-1"],
      ["HR", "PO-1"],
    ]);
  });

  it("trims serial numbers and treats empty optional fields as absent", () => {
    const { request } = ok(json({ devices: [device(1, { serialNumber: "  SN-1 \t", productKey: "", assignedUserPrincipalName: " " })] }));
    expect(request.devices[0]).toEqual({ serialNumber: "SN-1", hardwareIdentifier: makeHash(1) });
  });

  it("accepts Graph's import-action body unchanged, ignoring @odata.type, id and state, with batch fields from the query", () => {
    const body = {
      importedWindowsAutopilotDeviceIdentities: [
        { "@odata.type": "#microsoft.graph.importedWindowsAutopilotDeviceIdentity", id: "x", state: { deviceImportStatus: "complete" }, ...device(1) },
      ],
    };
    const { request } = ok(json(body, "tenantId=11111111-2222-3333-4444-555555555555&groupTag=Lab"));
    expect(request).toEqual({ tenantId: "11111111-2222-3333-4444-555555555555", groupTag: "Lab", devices: [{ ...device(1), groupTag: "Lab" }] });
  });

  it("rejects an unknown field by name, suggesting the right one", () => {
    const p = problemOf(json({ devices: [{ serialnumber: "SN-1", hardwareIdentifier: makeHash(1) }] }));
    expect(p.status).toBe(400);
    expect(p.type).toBe(ProblemType.validation);
    expect(p.errors).toContainEqual({ device: 0, field: "serialnumber", message: "unknown field 'serialnumber'; did you mean 'serialNumber'?" });
    expect(p.errors).toContainEqual({ device: 0, field: "serialNumber", message: "required" });
  });

  it("rejects unknown top-level fields", () => {
    const p = problemOf(json({ devices: [device(1)], tennantId: "x" }));
    expect(p.errors?.[0]).toMatchObject({ field: "tennantId" });
  });

  it("lists every problem of every device, with its index, and a summary", () => {
    const p = problemOf(
      json({
        devices: [
          device(0),
          { serialNumber: "", hardwareIdentifier: "not base64!" },
          device(2, { assignedUserPrincipalName: "not a upn" }),
          device(3, { hardwareIdentifier: "QUJD" }),
        ],
      }),
    );
    expect(p.errors).toEqual([
      { device: 1, field: "serialNumber", message: "required" },
      { device: 1, field: "hardwareIdentifier", message: expect.stringMatching(/strict base64/) },
      { device: 2, field: "assignedUserPrincipalName", message: expect.stringMatching(/user principal name/) },
      { device: 3, field: "hardwareIdentifier", message: expect.stringMatching(/fewer than 64 bytes/) },
    ]);
    expect(p.detail).toBe("4 problems in 3 devices; nothing was imported.");
  });

  it.each([
    ["whitespace inside", (h: string) => `${h.slice(0, 8)} ${h.slice(8)}`],
    ["missing padding", (h: string) => h.replace(/=+$/, "")],
    ["URL-safe alphabet", (h: string) => h.replace(/\+/g, "-").replace(/\//g, "_")],
  ])("rejects a hash with %s", (_, mangle) => {
    // makeHash(5) has both padding and +/ characters, so each mangling changes it.
    const hash = makeHash(5, 3_001);
    expect(mangle(hash)).not.toBe(hash);
    const p = problemOf(json({ devices: [device(1, { hardwareIdentifier: mangle(hash) })] }));
    expect(p.errors?.[0]).toMatchObject({ field: "hardwareIdentifier" });
  });

  it("rejects a hash that decodes to more than the maximum", () => {
    const p = problemOf(json({ devices: [device(1, { hardwareIdentifier: makeHash(1, limits.hashMaxBytes + 1) })] }));
    expect(p.errors?.[0]?.message).toMatch(/more than 16384 bytes/);
  });

  it("rejects the same serial (case-insensitive) or the same hash twice, naming the first", () => {
    const p = problemOf(json({ devices: [device(1), device(2, { serialNumber: "sn-1" }), device(3, { hardwareIdentifier: makeHash(1) })] }));
    expect(p.errors).toEqual([
      { device: 1, field: "serialNumber", message: "the same serial number as device 0" },
      { device: 2, field: "hardwareIdentifier", message: "the same hardware hash as device 0" },
    ]);
  });

  it("answers 400 for an empty batch and 413 past the maximum, before validating devices", () => {
    expect(problemOf(json({ devices: [] }))).toMatchObject({ status: 400, type: ProblemType.noDevices });
    const tooMany = Array.from({ length: limits.maxDevices + 1 }, () => ({ junk: true }));
    expect(problemOf(json({ devices: tooMany }))).toMatchObject({ status: 413, type: ProblemType.tooManyDevices, maxDevices: limits.maxDevices });
  });

  it("answers 400 with line and column for malformed JSON, without quoting the body", () => {
    const secret = makeHash(9);
    const body = Buffer.from(`{\n  "devices": [\n    { "serialNumber": "A", "hardwareIdentifier": "${secret}", }\n  ]\n}`);
    const p = problemOf(parseImportRequest({ contentType: "application/json; charset=utf-8", body, query: new URLSearchParams() }, limits));
    expect(p).toMatchObject({ status: 400, type: ProblemType.malformedBody, line: 3 });
    expect(p.column).toBeGreaterThan(40);
    expect(JSON.stringify(p)).not.toContain(secret.slice(0, 40));
  });

  it("validates the tenant id", () => {
    expect(problemOf(json({ tenantId: "not a tenant", devices: [device(1)] })).errors?.[0]).toMatchObject({ field: "tenantId" });
  });
});

describe("CSV batches", () => {
  const devices = [
    { ...makeDevices(1, "CSV")[0]!, groupTag: "Sales", assignedUserPrincipalName: "alex@contoso.com", productKey: "00330-80000-00000-AA123" },
    ...makeDevices(2, "CSW"),
  ];

  it.each([
    ["UTF-8", { encoding: "utf8" as const }],
    ["UTF-8 with BOM", { encoding: "utf8bom" as const }],
    ["UTF-16 LE with BOM and CRLF (Windows PowerShell)", { encoding: "utf16le" as const, eol: "\r\n" as const }],
    ["LF line ends", { eol: "\n" as const }],
    ["quoted fields", { quoted: true }],
    ["blank trailing lines", { trailingBlankLines: 3 }],
    ["only the three required columns", { optionalColumns: false }],
  ])("parses %s", (_, options) => {
    const { request, lines } = ok(csv(makeCsv(devices, options), "groupTag=Default&orderIdentifier=PO-7"));
    expect(request.devices.map((d) => d.serialNumber)).toEqual(devices.map((d) => d.serialNumber));
    expect(request.devices.map((d) => d.hardwareIdentifier)).toEqual(devices.map((d) => d.hardwareIdentifier));
    expect(request.devices[0]).toMatchObject({ productKey: "00330-80000-00000-AA123", orderIdentifier: "PO-7" });
    if (options.optionalColumns !== false) expect(request.devices[0]).toMatchObject({ groupTag: "Sales", assignedUserPrincipalName: "alex@contoso.com" });
    expect(request.devices[1]?.groupTag).toBe("Default");
    expect(lines).toEqual([2, 3, 4]);
  });

  it("accepts headers in another case and order", () => {
    const text = `hardware hash,DEVICE SERIAL NUMBER, windows product id \r\n${devices[1]!.hardwareIdentifier},${devices[1]!.serialNumber},\r\n`;
    expect(ok(csv(Buffer.from(text))).request.devices[0]?.serialNumber).toBe(devices[1]!.serialNumber);
  });

  it("reports CSV line numbers with each problem, skipping blank lines in the count", () => {
    const text = `Device Serial Number,Windows Product ID,Hardware Hash\r\nA,,${makeHash(1)}\r\n\r\n,,${makeHash(2)}\r\n`;
    expect(problemOf(csv(Buffer.from(text))).errors).toEqual([{ device: 1, line: 4, field: "serialNumber", message: "required" }]);
  });

  it("names unknown and missing columns", () => {
    expect(problemOf(csv(Buffer.from("Device Serial Number,Hardware Hash,Colour\r\nA,B,C\r\n"))).detail).toMatch(/unknown column\(s\) 'Colour'/);
    expect(problemOf(csv(Buffer.from("Device Serial Number,Hardware Hash\r\nA,B\r\n"))).detail).toMatch(/missing column\(s\) 'Windows Product ID'/);
  });

  it("answers 400 with the line for a row with the wrong number of fields or an unclosed quote", () => {
    const header = "Device Serial Number,Windows Product ID,Hardware Hash\r\n";
    expect(problemOf(csv(Buffer.from(`${header}A,,${makeHash(1)}\r\nB,,x,extra\r\n`)))).toMatchObject({ status: 400, type: ProblemType.malformedBody, line: 3 });
    expect(problemOf(csv(Buffer.from(`${header}"A,,${makeHash(1)}\r\n`)))).toMatchObject({ status: 400, type: ProblemType.malformedBody });
  });

  it("rejects bytes that are not UTF-8 and carry no UTF-16 BOM", () => {
    expect(problemOf(csv(Buffer.from([0x41, 0xc3, 0x28, 0x0a])))).toMatchObject({ status: 400, type: ProblemType.malformedBody });
  });

  it("answers 400 for a CSV with a header and no devices", () => {
    expect(problemOf(csv(makeCsv([])))).toMatchObject({ status: 400, type: ProblemType.noDevices });
  });
});

describe("media types and sizes", () => {
  it.each(["text/plain", "application/xml", undefined])("answers 415 for %s", (contentType) => {
    const p = problemOf(parseImportRequest({ contentType, body: Buffer.from("{}"), query: new URLSearchParams() }, limits));
    expect(p).toMatchObject({ status: 415, type: ProblemType.unsupportedMediaType, accepted: ["application/json", "text/csv"] });
  });

  it("accepts +json media types", () => {
    expect(ok(parseImportRequest({ contentType: "application/vnd.partner+json", body: Buffer.from(JSON.stringify({ devices: [device(1)] })), query: new URLSearchParams() }, limits)));
  });

  it("answers 413 for a body over the limit", () => {
    const small = { ...limits, maxBodyBytes: 10 };
    expect(problemOf(parseImportRequest({ contentType: "text/csv", body: Buffer.alloc(11), query: new URLSearchParams() }, small))).toMatchObject({ status: 413 });
  });
});

describe("secrets in problems", () => {
  it("never repeats a hash, product key or UPN back", () => {
    fc.assert(
      fc.property(fc.string({ minLength: 12, maxLength: 40 }).filter((s) => /^[A-Za-z0-9]+$/.test(s)), fc.integer({ min: 0, max: 1e6 }), (token, seed) => {
        const badUpn = `${token} ${token}`;
        const badHash = `${makeHash(seed).slice(0, 200)}${token}!`;
        const productKey = `${token}${"K".repeat(70)}`;
        const body = { devices: [{ serialNumber: "SN", hardwareIdentifier: badHash, productKey, assignedUserPrincipalName: badUpn }] };
        const text = JSON.stringify(problemOf(json(body)));
        expect(text).not.toContain(token);
        expect(text).not.toContain(badHash.slice(0, 40));
      }),
      { numRuns: 50 },
    );
  });
});

describe("robustness", () => {
  const validBody = JSON.stringify({ devices: [device(1), device(2)] });

  it("never throws, and answers only ok or a 400/413/415 problem, for random and mutated bodies", () => {
    const mutated = fc.tuple(fc.nat(validBody.length), fc.nat(20), fc.string({ maxLength: 5 })).map(([at, cut, insert]) => validBody.slice(0, at) + insert + validBody.slice(at + cut));
    const anyJson = fc.jsonValue().map((v) => JSON.stringify(v));
    fc.assert(
      fc.property(fc.oneof(mutated, anyJson, fc.string()), fc.constantFrom("application/json", "text/csv", "text/plain"), (body, contentType) => {
        const outcome = parseImportRequest({ contentType, body: Buffer.from(body), query: new URLSearchParams() }, limits);
        if (!outcome.ok) {
          expect([400, 413, 415]).toContain(outcome.problem.status);
          expect(outcome.problem.title).toBeTruthy();
          expect(outcome.problem.type).toMatch(/^https:\/\//);
        }
      }),
      { numRuns: 300 },
    );
  });
});
