import { describe, expect, it } from "vitest";
import { API_KEY_PREFIX, apiKeyMatches, generateApiKey, hashApiKey, parseApiKey } from "../../src/auth/apiKeys.js";
import { mayImportInto } from "../../src/auth/caller.js";
import { readCredential } from "../../src/auth/credentials.js";

const headers = (values: Record<string, string>) => ({ get: (name: string) => values[name.toLowerCase()] ?? null });

describe("API keys", () => {
  it("are random, prefixed, at least 128 bits, and parse back to their key id", () => {
    const keys = Array.from({ length: 50 }, generateApiKey);
    expect(new Set(keys.map((k) => k.key)).size).toBe(50);
    for (const k of keys) {
      expect(k.key.startsWith(API_KEY_PREFIX)).toBe(true);
      const secret = k.key.slice(API_KEY_PREFIX.length + 17);
      expect(Buffer.from(secret, "base64url").length * 8).toBeGreaterThanOrEqual(128);
      expect(parseApiKey(k.key)).toEqual({ keyId: k.keyId, key: k.key });
      expect(k.hash).toBe(hashApiKey(k.key));
      expect(k.hash).not.toContain(secret);
    }
  });

  it("match only their own hash", () => {
    const [a, b] = [generateApiKey(), generateApiKey()];
    expect(apiKeyMatches(a.key, a.hash)).toBe(true);
    expect(apiKeyMatches(b.key, a.hash)).toBe(false);
    expect(apiKeyMatches(a.key, "00")).toBe(false);
    // one character changed in the secret
    const tampered = a.key.slice(0, -1) + (a.key.endsWith("A") ? "B" : "A");
    expect(apiKeyMatches(tampered, a.hash)).toBe(false);
  });

  it.each(["", "apimp_", "apimp_xyz_abc", `apimp_${"0".repeat(16)}_short`, "Bearer x", `apimp_${"0".repeat(16)}_${"a".repeat(43)}!`])(
    "refuse %j before any storage read",
    (text) => {
      expect(parseApiKey(text)).toBeUndefined();
    },
  );
});

describe("reading the credential", () => {
  const key = generateApiKey().key;
  it.each([
    [{ authorization: `Bearer ${key}` }, { kind: "api-key", key }],
    [{ authorization: `bearer   ${key}` }, { kind: "api-key", key }],
    [{ "x-api-key": key }, { kind: "api-key", key }],
    [{ authorization: "Bearer eyJhbGciOi.eyJ.sig" }, { kind: "token", token: "eyJhbGciOi.eyJ.sig" }],
    [{ authorization: `Basic ${Buffer.from("a:b").toString("base64")}` }, { kind: "malformed" }],
    [{ authorization: "Bearer" }, { kind: "malformed" }],
    [{}, { kind: "none" }],
  ])("%j → %j", (given, expected) => {
    expect(readCredential(headers(given as Record<string, string>))).toEqual(expected);
  });
});

describe("mayImportInto", () => {
  const caller = { partnerId: "p", tenants: ["AAAAAAAA-0000-4000-8000-000000000001", "contoso.onmicrosoft.com"], via: "api-key" as const };
  it("allows the partner's tenants, whatever their case, and nothing else", () => {
    expect(mayImportInto(caller, "aaaaaaaa-0000-4000-8000-000000000001")).toBe(true);
    expect(mayImportInto(caller, "Contoso.OnMicrosoft.com")).toBe(true);
    expect(mayImportInto(caller, "fabrikam.onmicrosoft.com")).toBe(false);
    expect(mayImportInto(caller, "aaaaaaaa-0000-4000-8000-000000000002")).toBe(false);
    expect(mayImportInto({ ...caller, tenants: [] }, "contoso.onmicrosoft.com")).toBe(false);
  });
});
