import { describe, expect, it } from "vitest";
import type { LookupAddress } from "node:dns";
import { safeLookup } from "../../src/webhooks/safeLookup.js";
import { createWebhookPoster } from "../../src/webhooks/webhookClient.js";

function lookupWith(addresses: LookupAddress[]) {
  let calls = 0;
  const lookup = safeLookup(async () => {
    calls++;
    return addresses;
  });
  return { lookup, calls: () => calls };
}

function run(lookup: ReturnType<typeof safeLookup>, all = false): Promise<{ error?: Error; address?: unknown }> {
  return new Promise((resolve) =>
    lookup("hooks.example.test", { all }, (error: NodeJS.ErrnoException | null, address: unknown) =>
      resolve({ ...(error ? { error } : { address }) }),
    ),
  );
}

describe("safeLookup", () => {
  it("hands the socket the address it checked", async () => {
    const { lookup } = lookupWith([{ address: "8.8.8.8", family: 4 }]);
    expect(await run(lookup)).toEqual({ address: "8.8.8.8" });
    expect(await run(lookup, true)).toEqual({ address: [{ address: "8.8.8.8", family: 4 }] });
  });

  it("refuses a name when any of its addresses is not public", async () => {
    for (const bad of ["10.0.0.5", "127.0.0.1", "169.254.169.254", "::1", "::ffff:192.168.1.1", "fd00::5"]) {
      const { lookup } = lookupWith([
        { address: "8.8.8.8", family: 4 },
        { address: bad, family: bad.includes(":") ? 6 : 4 },
      ]);
      const { error } = await run(lookup);
      expect(error?.message, bad).toMatch(/never delivered/);
    }
  });
});

describe("webhook poster without allowed hosts", () => {
  const post = createWebhookPoster({ timeoutMs: 2000, allowedHosts: [] });

  it.each(["https://127.0.0.1/hook", "https://10.1.2.3/hook", "https://[::1]/hook", "https://169.254.169.254/latest"])(
    "refuses %s before connecting",
    async (url) => {
      expect(await post(url, {}, "{}")).toMatchObject({ kind: "refused" });
    },
  );

  it("refuses a name that resolves to a private address (real DNS: localhost)", async () => {
    const result = await post("https://localhost:1/hook", {}, "{}");
    expect(result).toMatchObject({ kind: "refused", reason: expect.stringMatching(/loopback/) });
  });

  it("refuses a name resolving to a private address, asking DNS once", async () => {
    const { lookup, calls } = lookupWith([{ address: "10.0.0.7", family: 4 }]);
    const poster = createWebhookPoster({ timeoutMs: 2000, allowedHosts: [], lookup });
    expect(await poster("https://hooks.example.test/hook", {}, "{}")).toMatchObject({
      kind: "refused",
      reason: expect.stringMatching(/private/),
    });
    expect(calls()).toBe(1);
  });

  it("refuses plain http to a host that is not allowed", async () => {
    expect(await post("http://hooks.example.test/hook", {}, "{}")).toMatchObject({
      kind: "refused",
      reason: expect.stringMatching(/https/),
    });
  });
});
