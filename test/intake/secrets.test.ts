import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { makeCsv } from "../support/devices.js";
import { CSV_HEADER, parse, postCsv, postJson } from "./helpers.js";

/**
 * Random secret material, distinctive enough that finding it in a body means it leaked: a 4K
 * hash, a product key (five groups of five), a UPN's local part. Field and column names are shown
 * back (that is how "unknown field 'serialnumber'" works) unless they look like one of these.
 */
const token = fc.stringMatching(/^[A-Za-z0-9]{16,40}$/);
const productKey = fc
  .array(fc.constantFrom(..."BCDFGHJKMPQRTVWXY2346789"), { minLength: 25, maxLength: 25 })
  .map((c) => c.join("").replace(/(.{5})(?=.)/g, "$1-"));
const randomHash = fc.uint8Array({ minLength: 2_500, maxLength: 3_500 }).map((bytes) => Buffer.from(bytes).toString("base64"));

function leaks(body: unknown, secrets: string[]): string[] {
  const text = JSON.stringify(body);
  return secrets.filter((s) => text.includes(s));
}

describe("no hash, product key or UPN in any problem", () => {
  it("JSON: bad, oversized, duplicate and misplaced secrets are described, never repeated", () => {
    fc.assert(
      fc.property(randomHash, productKey, token, (hash, key, user) => {
        const upn = `${user}@contoso.com`;
        const cases: unknown[] = [
          // each secret invalid in its own way
          {
            devices: [
              {
                serialNumber: "SN-1",
                hardwareIdentifier: `${hash.slice(0, 40)} ${hash.slice(40)}`,
                productKey: `${key}${"-K".repeat(35)}`,
                assignedUserPrincipalName: `${user} x@contoso.com`,
              },
            ],
          },
          { devices: [{ serialNumber: "SN-1", hardwareIdentifier: `${hash}*`, assignedUserPrincipalName: `${user}` }] },
          { devices: [{ serialNumber: "SN-1", hardwareIdentifier: hash.replace(/[+/]/g, "-") + "A" }] },
          // valid secrets beside another fault, and duplicated
          {
            devices: [
              { serialNumber: "SN-1", hardwareIdentifier: hash, productKey: key, assignedUserPrincipalName: upn, colour: 1 },
              { serialNumber: "SN-2", hardwareIdentifier: hash, productKey: key, assignedUserPrincipalName: upn },
            ],
          },
          // secrets as field names, wrong types, and in the wrong fields
          { devices: [{ serialNumber: "SN-1", hardwareIdentifier: hash, [hash]: 1, [upn]: 2, [key]: 3 }], [upn]: true },
          { devices: [{ serialNumber: ["x"], hardwareIdentifier: [hash], productKey: { key }, assignedUserPrincipalName: [upn] }] },
          { tenantId: upn, groupTag: key.repeat(10), devices: [{ serialNumber: "SN-1", hardwareIdentifier: key, importId: hash }] },
        ];
        for (const body of cases) {
          const outcome = postJson(body, `tenantId=${key}`);
          expect(outcome.ok).toBe(false);
          if (!outcome.ok) expect(leaks(outcome.problem, [hash.slice(0, 24), key, user])).toEqual([]);
        }
        // malformed JSON around a secret
        for (const text of [
          `{"devices":[{"hardwareIdentifier":${hash}}]}`,
          `{"devices":[{"productKey":"${key}" "x":1}]}`,
          `{"devices":[{"assignedUserPrincipalName":${upn}}]}`,
        ]) {
          const outcome = parse("application/json", text);
          if (!outcome.ok) expect(leaks(outcome.problem, [hash.slice(0, 24), key, user])).toEqual([]);
        }
      }),
      { numRuns: 40 },
    );
  });

  it("CSV: bad rows, headerless files and broken quoting never repeat a cell", () => {
    fc.assert(
      fc.property(randomHash, productKey, token, fc.constantFrom("utf8" as const, "utf16le" as const), (hash, key, user, encoding) => {
        const upn = `${user}@contoso.com`;
        const bodies = [
          makeCsv(
            [
              {
                serialNumber: "SN-1",
                hardwareIdentifier: `${hash}!`,
                productKey: `${key}${"-K".repeat(35)}`,
                assignedUserPrincipalName: `${user} @x`,
              },
            ],
            { encoding },
          ),
          makeCsv(
            [
              { serialNumber: "SN-1", hardwareIdentifier: hash, productKey: key, assignedUserPrincipalName: upn },
              { serialNumber: "SN-2", hardwareIdentifier: hash },
            ],
            { encoding },
          ),
          Buffer.from(`SN-1,${key},${hash},Tag,${upn}\r\n`),
          Buffer.from(`${CSV_HEADER},${upn},${key}\r\nSN-1,${key},${hash},a,b\r\n`),
          Buffer.from(`${CSV_HEADER}\r\nSN-1,"${key},${hash}\r\n`),
          Buffer.from(`${CSV_HEADER}\r\nSN-1,${key}"x,${hash}\r\nSN-2,"${upn}"x,${hash}\r\n`),
          Buffer.from(`${CSV_HEADER}\r\nSN-1,${key},${hash},${upn}\r\n`),
        ];
        for (const body of bodies) {
          const outcome = postCsv(body);
          expect(outcome.ok).toBe(false);
          if (!outcome.ok) expect(leaks(outcome.problem, [hash.slice(0, 24), key, user])).toEqual([]);
        }
      }),
      { numRuns: 40 },
    );
  });
});
