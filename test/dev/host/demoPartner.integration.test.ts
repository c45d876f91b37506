import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Authenticator } from "../../../src/auth/authenticate.js";
import { DEFAULT_DEV_API_KEY, DEMO_PARTNER_ID, seedDemoPartner } from "../../../src/dev/host/demoPartner.js";
import { startAzurite, type RunningAzurite } from "../../../src/dev/host/azurite.js";
import { createStorageClients } from "../../../src/storage/clients.js";
import { PartnerStore } from "../../../src/auth/partnerStore.js";

/** `npm start`'s demo partner: the README's key works, and a persistent storage account may be seeded twice. */
let azurite: RunningAzurite;
let store: PartnerStore;

beforeAll(async () => {
  azurite = await startAzurite();
  const storage = createStorageClients({ kind: "connectionString", connectionString: azurite.connectionString });
  await Promise.all([storage.partners.createTable(), storage.partnerKeys.createTable(), storage.partnerApps.createTable()]);
  store = new PartnerStore(storage);
});
afterAll(async () => azurite?.stop());

describe("the demo partner", () => {
  it("is seeded idempotently with the development key, which authenticates for the demo tenant only", async () => {
    await seedDemoPartner(store, ["11111111-2222-3333-4444-555555555555"], DEFAULT_DEV_API_KEY);
    await seedDemoPartner(store, ["11111111-2222-3333-4444-555555555555"], DEFAULT_DEV_API_KEY);
    expect(await store.listKeys(DEMO_PARTNER_ID)).toHaveLength(1);
    const result = await new Authenticator({ partners: store }).authenticate({
      get: (name) => (name === "x-api-key" ? DEFAULT_DEV_API_KEY : null),
    });
    expect(result).toEqual({
      ok: true,
      caller: { partnerId: DEMO_PARTNER_ID, tenants: ["11111111-2222-3333-4444-555555555555"], via: "api-key" },
    });
  });

  it("refuses a DEV_PARTNER_API_KEY that is not shaped like a key", async () => {
    await expect(seedDemoPartner(store, ["t"], "hunter2")).rejects.toThrow(/DEV_PARTNER_API_KEY/);
  });

  it("is the key the README walkthrough sends", () => {
    expect(readFileSync(new URL("../../../README.md", import.meta.url), "utf8")).toContain(`export API_KEY=${DEFAULT_DEV_API_KEY}`);
  });
});
