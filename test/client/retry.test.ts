import { describe, expect, it } from "vitest";
import { retryAfterMs, retryingFetch } from "../../clients/typescript/src/retry.js";

/** A fetch that answers from a script, recording what it was asked; waits are recorded, not slept. */
function scripted(answers: (Response | Error)[]) {
  const seen: { method: string; body: string }[] = [];
  const waits: number[] = [];
  const inner = (async (request: Request) => {
    seen.push({ method: request.method, body: await request.text() });
    const next = answers.shift();
    if (!next) throw new Error("no more answers");
    if (next instanceof Error) throw next;
    return next;
  }) as typeof fetch;
  return { seen, waits, sleep: async (ms: number) => void waits.push(ms), inner };
}

const answer = (status: number, headers: Record<string, string> = {}) => new Response(status === 204 ? null : "{}", { status, headers });
const post = (headers: Record<string, string> = {}) =>
  new Request("http://api.test/api/imports", { method: "POST", body: '{"devices":[]}', headers });

describe("retryingFetch", () => {
  it("waits what Retry-After says on 429 and 503, and sends the same body again", async () => {
    const s = scripted([answer(429, { "retry-after": "3" }), answer(503, { "retry-after": "1" }), answer(202)]);
    const response = await retryingFetch(s.inner, { sleep: s.sleep })(post({ "idempotency-key": "k" }));
    expect(response.status).toBe(202);
    expect(s.waits).toEqual([3_000, 1_000]);
    expect(s.seen.map((r) => r.body)).toEqual(Array(3).fill('{"devices":[]}'));
  });

  it("stops after maxRetries and hands back the last answer; never waits longer than maxDelayMs", async () => {
    const s = scripted([answer(503, { "retry-after": "600" }), answer(503, { "retry-after": "600" }), answer(503)]);
    const response = await retryingFetch(s.inner, { sleep: s.sleep, maxRetries: 2, maxDelayMs: 5_000 })(new Request("http://api.test/x"));
    expect(response.status).toBe(503);
    expect(s.waits).toEqual([5_000, 5_000]);
  });

  it("backs off without Retry-After, and leaves other statuses alone", async () => {
    const s = scripted([answer(429), answer(429), answer(409)]);
    const response = await retryingFetch(s.inner, { sleep: s.sleep, baseDelayMs: 100 })(new Request("http://api.test/x"));
    expect(response.status).toBe(409);
    expect(s.waits).toEqual([100, 200]);
  });

  it("repeats a dropped connection only when repeating is safe: a read, or a create with an Idempotency-Key", async () => {
    const dropped = () => new TypeError("fetch failed");
    const read = scripted([dropped(), answer(200)]);
    expect((await retryingFetch(read.inner, { sleep: read.sleep })(new Request("http://api.test/x"))).status).toBe(200);
    const keyed = scripted([dropped(), answer(202)]);
    expect((await retryingFetch(keyed.inner, { sleep: keyed.sleep })(post({ "idempotency-key": "k" }))).status).toBe(202);
    const bare = scripted([dropped(), answer(202)]);
    await expect(retryingFetch(bare.inner, { sleep: bare.sleep })(post())).rejects.toThrow("fetch failed");
    expect(bare.seen).toHaveLength(1);
  });

  it("reads Retry-After as seconds or as an HTTP date", () => {
    const now = Date.parse("2026-12-05T10:00:00Z");
    expect(retryAfterMs("7", now)).toBe(7_000);
    expect(retryAfterMs("Sat, 05 Dec 2026 10:00:30 GMT", now)).toBe(30_000);
    expect(retryAfterMs("Sat, 05 Dec 2026 09:00:00 GMT", now)).toBe(0);
    expect(retryAfterMs("soon", now)).toBeUndefined();
    expect(retryAfterMs(null, now)).toBeUndefined();
  });
});
