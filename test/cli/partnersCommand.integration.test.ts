import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Authenticator } from "../../src/auth/authenticate.js";
import { runPartnersCommand } from "../../src/cli/partnersCommand.js";
import { startAzurite, type RunningAzurite } from "../../src/dev/host/azurite.js";
import { createStorageClients, type StorageClients } from "../../src/storage/clients.js";
import { PartnerStore } from "../../src/auth/partnerStore.js";

/** The partners CLI's logic against real Azurite: what it prints, what it stores, and whether the keys it prints work. */
let azurite: RunningAzurite;
let storage: StorageClients;
let store: PartnerStore;
let auth: Authenticator;

beforeAll(async () => {
  azurite = await startAzurite();
  storage = createStorageClients({ kind: "connectionString", connectionString: azurite.connectionString });
  await Promise.all([storage.partners.createTable(), storage.partnerKeys.createTable(), storage.partnerApps.createTable()]);
  store = new PartnerStore(storage);
  auth = new Authenticator({ partners: store });
});
afterAll(async () => azurite?.stop());

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runPartnersCommand(argv, store, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

const webhookSecretIn = (text: string) => /whsec_[A-Za-z0-9+/]{43}=/.exec(text)?.[0];
const keyIn = (text: string) => /apimp_[0-9a-f]{16}_[A-Za-z0-9_-]{43}/.exec(text)?.[0];
const who = async (key: string) => {
  const result = await auth.authenticate({ get: (name) => (name === "x-api-key" ? key : null) });
  return result.ok ? result.caller : result.failure;
};

describe("npm run partners", () => {
  let firstKey: string;

  it("add registers the partner with its tenants and apps and prints a working key once", async () => {
    const added = await run(
      "add",
      "contoso-oem",
      "--tenants",
      "aaaaaaaa-0000-4000-8000-000000000001,contoso.onmicrosoft.com",
      "--app-id",
      "0E0E0E0E-1111-4222-8333-444444444444",
    );
    expect(added.code).toBe(0);
    firstKey = keyIn(added.out)!;
    expect(firstKey).toBeDefined();
    expect(await who(firstKey)).toEqual({
      partnerId: "contoso-oem",
      tenants: ["aaaaaaaa-0000-4000-8000-000000000001", "contoso.onmicrosoft.com"],
      via: "api-key",
    });
    expect(await store.partnerForApp("0e0e0e0e-1111-4222-8333-444444444444")).toBe("contoso-oem");

    // the webhook signing secret, printed once, is the one deliveries are signed with
    const webhookSecret = webhookSecretIn(added.out);
    expect(webhookSecret).toBeDefined();
    expect(await store.webhookSecretFor("contoso-oem")).toBe(webhookSecret);

    // only the hash is stored
    for await (const row of storage.partnerKeys.listEntities()) expect(JSON.stringify(row)).not.toContain(firstKey.slice(24));
  });

  it("refuses a duplicate partner, an app id of another partner, and bad arguments", async () => {
    expect(await run("add", "contoso-oem", "--tenants", "x.onmicrosoft.com")).toMatchObject({
      code: 1,
      err: expect.stringContaining("already exists"),
    });
    expect(
      await run("add", "fabrikam", "--tenants", "f.onmicrosoft.com", "--app-id", "0e0e0e0e-1111-4222-8333-444444444444"),
    ).toMatchObject({
      code: 1,
      err: expect.stringContaining("already belongs"),
    });
    expect((await run("add", "fabrikam")).code).toBe(2);
    expect((await run("add", "Bad_Id", "--tenants", "t")).code).toBe(1);
    expect((await run("frobnicate")).code).toBe(2);
    expect((await run()).code).toBe(2);
  });

  it("rotate prints a new key and keeps the previous one valid; a third rotation revokes the oldest; revoke is immediate", async () => {
    const second = keyIn((await run("rotate", "contoso-oem")).out)!;
    expect(second).not.toBe(firstKey);
    expect([await who(firstKey), await who(second)].map((c) => (typeof c === "string" ? c : c.partnerId))).toEqual([
      "contoso-oem",
      "contoso-oem",
    ]);

    const rotated = await run("rotate", "contoso-oem");
    const third = keyIn(rotated.out)!;
    expect(rotated.out).toContain("revoked");
    expect(await who(firstKey)).toBe("invalid");
    expect(typeof (await who(third))).toBe("object");

    const secondId = second.slice(6, 22);
    expect((await run("revoke", "contoso-oem", secondId)).code).toBe(0);
    expect(await who(second)).toBe("invalid");
    expect((await run("revoke", "someone-else", third.slice(6, 22))).code).toBe(1);
  });

  it("rotate-webhook-secret replaces the signing secret and prints the new one once", async () => {
    const before = await store.webhookSecretFor("contoso-oem");
    const rotated = await run("rotate-webhook-secret", "contoso-oem");
    expect(rotated.code).toBe(0);
    const after = webhookSecretIn(rotated.out);
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
    expect(await store.webhookSecretFor("contoso-oem")).toBe(after);
    // The previous secret signs beside the new one for a day, then no more.
    expect(rotated.out).toMatch(/previous secret also signs until \d{4}-/);
    expect(await store.webhookSecretsFor("contoso-oem")).toEqual([after, before]);
    const dayLater = new PartnerStore(storage, () => new Date(Date.now() + 25 * 3_600_000));
    expect(await dayLater.webhookSecretsFor("contoso-oem")).toEqual([after]);
    expect((await run("rotate-webhook-secret", "nobody-here")).code).toBe(1);
    expect(webhookSecretIn((await run("list")).out)).toBeUndefined();
  });

  it("list shows partners and key ids, never a key or its hash", async () => {
    const listed = await run("list");
    expect(listed.code).toBe(0);
    expect(listed.out).toContain("contoso-oem");
    expect(listed.out).toContain("contoso.onmicrosoft.com");
    expect(listed.out.match(/ key [0-9a-f]{16} /g)).toHaveLength(3);
    expect(listed.out).toMatch(/active/);
    expect(keyIn(listed.out)).toBeUndefined();
    const hashes = (await store.listKeys("contoso-oem")).map((k) => k.hash);
    for (const hash of hashes) expect(listed.out).not.toContain(hash);
  });
});
