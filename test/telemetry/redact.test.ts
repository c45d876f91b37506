import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { redactSecrets } from "../../src/telemetry/redact.js";
import { makeHash } from "../support/devices.js";

const JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0aWQiOiJhYWFhIiwiYXBwaWQiOiJiYmJiIn0.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU";
const API_KEY = "apimp_0123456789abcdef_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCdE";

describe("redactSecrets", () => {
  it.each([
    ["a bearer token", `request failed: authorization: Bearer ${JWT}`, JWT],
    ["a bare JWT", `token ${JWT} rejected`, JWT],
    ["a hardware hash", `bad body ${makeHash(7)}`, makeHash(7).slice(0, 64)],
    ["a product key", "key XJ7TQ-8PNWR-3CBGK-7V2RM-HQ9DT refused", "XJ7TQ-8PNWR-3CBGK-7V2RM-HQ9DT"],
    ["a UPN", "user ada.lovelace@contoso.onmicrosoft.com not found", "ada.lovelace@contoso.onmicrosoft.com"],
    ["an x-api-key header", `x-api-key: ${API_KEY}`, API_KEY],
    ["an API key alone", `key ${API_KEY} unknown`, API_KEY],
    ["an apk_ key", "presented apk_live_9f8e7d6c5b4a39281706", "apk_live_9f8e7d6c5b4a39281706"],
    ["a SAS signature", "GET https://acct.queue.core.windows.net/q?sv=2024&sig=abc%2Bdef%3D failed", "abc%2Bdef"],
    ["a webhook URL's query", "POST https://hooks.example.com/in?token=s3cr3tvalue timed out", "s3cr3tvalue"],
    ["URL credentials", "connect https://admin:hunter2@example.com/x refused", "hunter2"],
  ])("removes %s", (_what, text, secret) => {
    const out = redactSecrets(text);
    expect(out).not.toContain(secret);
    expect(out).toMatch(/redacted/);
  });

  it("leaves the identifiers log lines are made of", () => {
    const text =
      "device-000042 of 4b0c1f5e-9a1b-4c3d-8e7f-0123456789ab in aaaaaaaa-0000-4000-8000-000000000001 (contoso.onmicrosoft.com): 806 ZtdDeviceAlreadyAssigned, status 429, request timed out (ECONNRESET)";
    expect(redactSecrets(text)).toBe(text);
  });

  it("never lets a hash through, wherever it sits in the text", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000 }), fc.string(), fc.string(), (seed, before, after) => {
        const hash = makeHash(seed, 64);
        expect(redactSecrets(`${before} ${hash} ${after}`)).not.toContain(hash);
      }),
    );
  });
});
