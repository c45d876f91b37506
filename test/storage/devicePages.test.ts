import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  devicesOfPage,
  packPages,
  PAGE_MAX_CHARS,
  PAGE_MAX_DEVICES,
  PAGE_PART_CHARS,
  pageRowKey,
  transactionGroups,
  type DevicePageEntity,
} from "../../src/storage/devicePages.js";
import { deviceRowKey, type DeviceEntity } from "../../src/storage/importEntities.js";

const BATCH = "11111111-2222-4333-8444-555555555555";

function device(index: number, hashChars = 4_000, extra: Partial<DeviceEntity> = {}): DeviceEntity {
  return {
    partitionKey: BATCH,
    rowKey: deviceRowKey(index),
    index,
    serialNumber: `SN-${index}`,
    hardwareIdentifier: "A".repeat(hashChars),
    tenantId: "contoso.onmicrosoft.com",
    state: "queued",
    attempts: 0,
    createdAt: "2026-12-07T00:00:00.000Z",
    updatedAt: "2026-12-07T00:00:00.000Z",
    ...extra,
  };
}

const partsOf = (page: DevicePageEntity) => Object.keys(page).filter((k) => /^d\d\d$/.test(k));

describe("device pages", () => {
  it("gives back every device exactly as written, in order, whatever its fields hold", () => {
    const text = fc.string({ unit: "binary", maxLength: 40 });
    fc.assert(
      fc.property(
        fc.array(fc.record({ hashChars: fc.integer({ min: 0, max: 30_000 }), serial: text, tag: fc.option(text, { nil: undefined }) }), {
          minLength: 1,
          maxLength: 250,
        }),
        (specs) => {
          const devices = specs.map((s, i) =>
            device(i, s.hashChars, { serialNumber: s.serial, ...(s.tag === undefined ? {} : { groupTag: s.tag }) }),
          );
          const pages = packPages(BATCH, devices);
          expect(pages.flatMap(devicesOfPage)).toEqual(devices);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("keeps each page within one transaction (99 devices) and one entity (450,000 characters in columns of 32,000)", () => {
    const ordinary = packPages(
      BATCH,
      Array.from({ length: 250 }, (_, i) => device(i)),
    );
    expect(ordinary.map((p) => p.count)).toEqual([99, 99, 52]);
    // The schema's largest hash (16,384 bytes: 21,848 base64 characters) fills a page by size first.
    const largest = packPages(
      BATCH,
      Array.from({ length: 60 }, (_, i) => device(i, 21_848)),
    );
    expect(largest.length).toBeGreaterThan(2);
    for (const page of [...ordinary, ...largest]) {
      const parts = partsOf(page).map((k) => page[k as `d${string}`]);
      expect(parts).toHaveLength(page.parts);
      expect(Math.max(...parts.map((p) => p.length))).toBeLessThanOrEqual(PAGE_PART_CHARS);
      expect(parts.join("").length).toBeLessThanOrEqual(PAGE_MAX_CHARS + 2);
      expect(page.count).toBeLessThanOrEqual(PAGE_MAX_DEVICES);
      expect(page.rowKey).toBe(pageRowKey(page.first));
    }
  });

  it("splits a page whose escaped characters made it longer than a page may be", () => {
    // Quotes and backslashes double in JSON: the size estimate counts them once, the page is checked whole.
    const devices = Array.from({ length: 200 }, (_, i) =>
      device(i, 4_400, { groupTag: '"'.repeat(128), orderIdentifier: "\\".repeat(64) }),
    );
    const pages = packPages(BATCH, devices);
    for (const page of pages)
      expect(partsOf(page).reduce((n, k) => n + page[k as `d${string}`].length, 0)).toBeLessThanOrEqual(PAGE_MAX_CHARS);
    expect(pages.flatMap(devicesOfPage)).toEqual(devices);
    expect(pages.length).toBeGreaterThan(Math.ceil(200 / PAGE_MAX_DEVICES));
  });

  it("never lets a page cross a break (a fan-out range's first device)", () => {
    const pages = packPages(
      BATCH,
      Array.from({ length: 300 }, (_, i) => device(i, 100)),
      [0, 100, 200],
    );
    expect(pages.map((p) => [p.first, p.count])).toEqual([
      [0, 99],
      [99, 1],
      [100, 99],
      [199, 1],
      [200, 99],
      [299, 1],
    ]);
  });

  it("refuses a page whose columns do not hold the devices it says", () => {
    const [page] = packPages(BATCH, [device(0), device(1)]);
    expect(() => devicesOfPage({ ...page!, count: 3 })).toThrow(/holds 2 devices, not 3/);
  });

  it("cuts rows into transactions of at most 100 rows and about 3,000,000 characters", () => {
    const small = Array.from({ length: 250 }, (_, i) => ({ partitionKey: BATCH, rowKey: `r${i}` }));
    expect(transactionGroups(small).map((g) => g.length)).toEqual([100, 100, 50]);
    const pages = packPages(
      BATCH,
      Array.from({ length: 2_000 }, (_, i) => device(i)),
    );
    const groups = transactionGroups(pages);
    expect(groups.flat()).toEqual(pages);
    const chars = (page: DevicePageEntity) => partsOf(page).reduce((n, k) => n + page[k as `d${string}`].length, 0);
    for (const group of groups) expect(group.reduce((n, page) => n + chars(page), 0)).toBeLessThanOrEqual(3_000_000);
    // 2,000 ordinary devices are about 8,800,000 characters: more than two transactions' worth.
    expect(groups.length).toBeGreaterThanOrEqual(3);
  });
});
