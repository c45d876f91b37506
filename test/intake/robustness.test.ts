import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ProblemType } from "../../src/http/problem.js";
import { makeCsv, makeHash } from "../support/devices.js";
import { device, limits, parse } from "./helpers.js";
import { DEVICE_FIELDS } from "../../src/intake/deviceSchema.js";

const PROBLEM_TYPES = new Set<string>(Object.values(ProblemType));
const contentTypes = fc.constantFrom(
  "application/json",
  "application/json; charset=utf-16le",
  "application/vnd.x+json",
  "text/csv",
  "text/csv; charset=windows-1252",
  "application/csv",
  "text/plain",
  "",
  undefined,
);
const queries = fc.constantFrom(
  "",
  "tenantId=contoso.onmicrosoft.com&groupTag=G",
  "tenantId=%00&tenantId=x",
  "groupTag=" + "G".repeat(200),
);

const small = { ...limits, maxDevices: 5, maxBodyBytes: 200_000 };
const validJson = Buffer.from(
  JSON.stringify({ tenantId: "contoso.onmicrosoft.com", devices: [device(1), device(2, { assignedUserPrincipalName: "a@b.co" })] }),
);
const validGraph = Buffer.from(
  JSON.stringify({ importedWindowsAutopilotDeviceIdentities: [{ "@odata.type": "#x", id: "1", state: {}, ...device(3) }] }),
);
const validCsv = makeCsv(
  [
    { serialNumber: "A", hardwareIdentifier: makeHash(1), groupTag: "G" },
    { serialNumber: "B", hardwareIdentifier: makeHash(2), assignedUserPrincipalName: "b@contoso.com" },
  ],
  { quoted: true },
);
const validCsv16 = makeCsv([{ serialNumber: "A", hardwareIdentifier: makeHash(1) }], { encoding: "utf16le" });

/** A valid body, then cut, spliced, byte-flipped or truncated. */
const mutated = fc
  .tuple(
    fc.constantFrom(validJson, validGraph, validCsv, validCsv16),
    fc.array(
      fc.tuple(fc.nat(), fc.nat(40), fc.uint8Array({ maxLength: 6 })).map(([at, cut, insert]) => ({ at, cut, insert })),
      { minLength: 1, maxLength: 4 },
    ),
  )
  .map(([base, edits]) =>
    edits.reduce((body, { at, cut, insert }) => {
      const i = at % (body.length + 1);
      return Buffer.concat([body.subarray(0, i), Buffer.from(insert), body.subarray(i + cut)]);
    }, base),
  );

const structuredJson = fc
  .tuple(
    fc.jsonValue({ maxDepth: 4 }),
    fc.array(
      fc.dictionary(
        fc.constantFrom(
          ...DEVICE_FIELDS,
          // Not device fields: a record's, and near misses.
          "id",
          "state",
          "@odata.type",
          "serialnumber",
          "x",
        ),
        fc.jsonValue({ maxDepth: 2 }),
      ),
      { maxLength: 8 },
    ),
  )
  .chain(([value, devices]) =>
    fc.constantFrom<unknown>(value, { devices }, { importedWindowsAutopilotDeviceIdentities: devices }, { devices, tenantId: value }),
  )
  .map((body) => Buffer.from(JSON.stringify(body) ?? "null"));

const csvLike = fc
  .array(
    fc.array(
      fc.oneof(
        fc.constantFrom("Device Serial Number", "Hardware Hash", "Windows Product ID", '"', '""', "", " ", makeHash(7), "a@b.co"),
        fc.string({ maxLength: 8 }),
      ),
      { maxLength: 6 },
    ),
    { maxLength: 8 },
  )
  .chain((rows) => fc.constantFrom("\r\n", "\n", "\r").map((eol) => Buffer.from(rows.map((r) => r.join(",")).join(eol))));

describe("any body", () => {
  it("never throws, and answers ok or a known problem with status 400, 413 or 415", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          mutated,
          structuredJson,
          csvLike,
          fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
          fc.string().map((s) => Buffer.from(s)),
        ),
        contentTypes,
        queries,
        (body, contentType, query) => {
          const outcome = parse(contentType, body, query, small);
          if (outcome.ok) {
            expect(outcome.request.devices.length).toBeGreaterThan(0);
            expect(outcome.request.devices.length).toBeLessThanOrEqual(small.maxDevices);
            return;
          }
          const p = outcome.problem;
          expect([400, 413, 415]).toContain(p.status);
          expect(PROBLEM_TYPES.has(p.type)).toBe(true);
          expect(p.title).toBeTruthy();
          expect(() => JSON.stringify(p)).not.toThrow();
          if (p.type === ProblemType.validation) expect(p.errors?.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 1_500 },
    );
  });

  it("treats deeply nested JSON as just another wrong shape", () => {
    const deep = "[".repeat(100_000) + "]".repeat(100_000);
    const outcome = parse(
      "application/json",
      `{"devices": [{"state": ${deep}, "serialNumber": "A", "hardwareIdentifier": "${makeHash(1)}"}]}`,
    );
    expect(outcome.ok).toBe(true);
    expect(parse("application/json", `{"devices": ${"[".repeat(100_000)}`).ok).toBe(false);
  });
});
