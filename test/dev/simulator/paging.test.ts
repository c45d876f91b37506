import { describe, expect, it } from "vitest";
import { decodeSkipToken, encodeSkipToken, parseTop, takePage } from "../../../src/dev/simulator/paging.js";

const items = (seqs: number[]) => seqs.map((seq) => ({ seq }));

describe("paging", () => {
  it("round-trips a cursor through an opaque token and refuses tampered ones", () => {
    const token = encodeSkipToken({ after: 42, top: 7 });
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeSkipToken(token)).toEqual({ after: 42, top: 7 });
    expect(decodeSkipToken("not-a-token")).toBeUndefined();
    expect(decodeSkipToken(encodeSkipToken({ after: 1, top: 5_000 }))).toBeUndefined();
  });

  it("parses $top from 1 to 999 only", () => {
    expect(parseTop("1")).toBe(1);
    expect(parseTop("999")).toBe(999);
    for (const bad of ["0", "1000", "-1", "2.5", "abc", ""]) expect(parseTop(bad)).toBeUndefined();
  });

  it("pages after the last served sequence, with a cursor only when more follow", () => {
    const all = items([1, 2, 3, 5, 8]);
    const first = takePage(all, { after: 0, top: 2 });
    expect(first).toEqual({ items: items([1, 2]), next: { after: 2, top: 2 } });
    const second = takePage(all, first.next!);
    expect(second).toEqual({ items: items([3, 5]), next: { after: 5, top: 2 } });
    expect(takePage(all, second.next!)).toEqual({ items: items([8]) });
    expect(takePage(items([1, 2]), { after: 0, top: 2 })).toEqual({ items: items([1, 2]) });
  });

  it("neither skips nor repeats when records before the cursor are deleted", () => {
    const first = takePage(items([1, 2, 3, 4]), { after: 0, top: 2 });
    expect(takePage(items([3, 4, 5]), first.next!).items).toEqual(items([3, 4]));
  });
});
