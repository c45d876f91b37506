import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { indexFilter, indexRowKey, invertedTime, isIndexRowKey } from "../../src/storage/batchIndex.js";

const ID = "6f1c1c9e-3c9f-4d5e-9b7a-0a1b2c3d4e5f";

describe("the batch index's row keys", () => {
  it("sort newer batches first, as Table storage orders RowKeys", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 8.64e15 }), fc.integer({ min: 0, max: 8.64e15 }), (a, b) => {
        fc.pre(a !== b);
        const [older, newer] = a < b ? [a, b] : [b, a];
        expect(invertedTime(newer) < invertedTime(older)).toBe(true);
        expect(invertedTime(a)).toHaveLength(16);
      }),
    );
  });

  it("turn a creation-time range into a RowKey range that keeps exactly the batches inside it", () => {
    const inRange = (createdMs: number, after: number, before: number) => {
      const key = `${invertedTime(createdMs)}-${ID}`;
      // The filter's own bounds, evaluated as Table storage compares strings.
      const lower = `${invertedTime(before)}~`;
      const upper = invertedTime(after);
      return key > lower && key < upper;
    };
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4e12 }), fc.integer({ min: 1, max: 4e12 }), fc.integer({ min: 1, max: 4e12 }), (t, a, b) => {
        expect(inRange(t, a, b)).toBe(t > a && t < b);
      }),
    );
    expect(indexFilter("p1", { createdAfter: 1, createdBefore: 2, status: "failed" })).toBe(
      `PartitionKey eq 'p1' and RowKey gt '${invertedTime(2)}~' and RowKey lt '${invertedTime(1)}' and status eq 'failed'`,
    );
  });

  it("recognises only keys it made, so a forged continuation token is refused", () => {
    expect(isIndexRowKey(indexRowKey("2026-11-29T01:00:00.000Z", ID))).toBe(true);
    expect(isIndexRowKey("' or PartitionKey ne '")).toBe(false);
  });
});
