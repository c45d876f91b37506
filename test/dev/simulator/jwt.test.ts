import { describe, expect, it } from "vitest";
import { decodeJwt, signHs256 } from "../../../src/dev/simulator/jwt.js";

describe("HS256 JWT", () => {
  it("verifies what it signs", () => {
    expect(decodeJwt(signHs256({ a: 1 }, "k"), "k")).toEqual({ ok: true, claims: { a: 1 } });
  });

  it("refuses a changed payload, another key, alg none, and malformed tokens", () => {
    const token = signHs256({ tid: "t1" }, "k");
    const [h, , s] = token.split(".");
    const forged = `${h}.${Buffer.from(JSON.stringify({ tid: "t2" })).toString("base64url")}.${s}`;
    expect(decodeJwt(forged, "k").ok).toBe(false);
    expect(decodeJwt(token, "other").ok).toBe(false);
    const none = `${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from('{"tid":"t"}').toString("base64url")}.`;
    expect(decodeJwt(none, "k")).toMatchObject({ ok: false, reason: expect.stringContaining("not HS256") });
    for (const bad of ["", "a.b", "a.b.c.d", "!!.e30.x", `${h}.WzFd.${s}`]) expect(decodeJwt(bad, "k").ok).toBe(false);
  });

  it("reads claims without a key, but still needs a well-formed token", () => {
    expect(decodeJwt(signHs256({ a: 1 }, "whatever"), undefined)).toEqual({ ok: true, claims: { a: 1 } });
    expect(decodeJwt("x.y", undefined).ok).toBe(false);
  });
});
