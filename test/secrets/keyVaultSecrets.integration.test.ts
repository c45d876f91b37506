import type { AccessToken, TokenCredential } from "@azure/identity";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runPartnersCommand } from "../../src/cli/partnersCommand.js";
import { loadConfig } from "../../src/config/config.js";
import { SettingsError } from "../../src/config/settings.js";
import { startAzurite, type RunningAzurite } from "../../src/dev/host/azurite.js";
import { CachedSecretVault, KeyVaultSecrets, type SecretVault } from "../../src/secrets/secretVault.js";
import { createStorageClients, type StorageClients } from "../../src/storage/clients.js";
import { PartnerError, PartnerStore, WEBHOOK_SECRET_OVERLAP_MS, webhookSecretName } from "../../src/auth/partnerStore.js";
import { startKeyVaultStandIn, STAND_IN_TOKEN, type KeyVaultStandIn } from "../support/keyVaultStandIn.js";

/**
 * Partner webhook signing secrets in Key Vault: the real @azure/keyvault-secrets client against a
 * stand-in of the secrets REST API on localhost (test/support/keyVaultStandIn.ts), and the
 * partners table in real Azurite.
 */
let vault: KeyVaultStandIn;
let azurite: RunningAzurite;
let storage: StorageClients;
const scopesAsked: string[] = [];
const credential: TokenCredential = {
  getToken: async (scopes): Promise<AccessToken> => {
    scopesAsked.push(...[scopes].flat());
    return { token: STAND_IN_TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 };
  },
};
const keyVault = () =>
  new KeyVaultSecrets(vault.url, credential, {
    disableChallengeResourceVerification: true,
    allowInsecureConnection: true,
    retryOptions: { maxRetries: 0 },
  });

beforeAll(async () => {
  [vault, azurite] = await Promise.all([startKeyVaultStandIn(), startAzurite()]);
  storage = createStorageClients({ kind: "connectionString", connectionString: azurite.connectionString });
  await Promise.all([storage.partners.createTable(), storage.partnerKeys.createTable(), storage.partnerApps.createTable()]);
});
afterAll(async () => Promise.all([vault?.stop(), azurite?.stop()]));

/** A vault that counts reads, to see what the cache saves. */
function counting(inner: SecretVault) {
  const reads: string[] = [];
  return {
    reads,
    vault: { put: (n: string, v: string) => inner.put(n, v), get: (r: string) => (reads.push(r), inner.get(r)) } satisfies SecretVault,
  };
}

describe("Key Vault secrets through @azure/keyvault-secrets", () => {
  it("stores versions and reads each back by reference, authenticating through the vault's challenge", async () => {
    const secrets = keyVault();
    const first = await secrets.put("partner-x-webhook", "one");
    const second = await secrets.put("partner-x-webhook", "two");
    expect(first).toMatch(/^partner-x-webhook\/[0-9a-f]{32}$/);
    expect(second).not.toBe(first);
    expect([await secrets.get(first), await secrets.get(second)]).toEqual(["one", "two"]);
    // The SDK first asked without a token, was told which resource to get one for, and did.
    expect(vault.requests.filter((r) => r.status === 401).length).toBeGreaterThan(0);
    expect(scopesAsked).toContain("https://vault.azure.net/.default");
  });

  it("fails on an unknown version or a malformed reference, never with a secret value in the error", async () => {
    const secrets = keyVault();
    await secrets.put("partner-y-webhook", "whsec_not-to-be-shown");
    const unknown = await secrets.get("partner-y-webhook/00000000000000000000000000000000").catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(Error);
    expect(`${String(unknown)} ${JSON.stringify(unknown)}`).not.toContain("whsec_not-to-be-shown");
    await expect(secrets.get("../etc")).rejects.toThrow(/not a Key Vault secret reference/);
  });

  it("reads each reference once per cache period; a failed read is not kept", async () => {
    let now = 0;
    const { reads, vault: inner } = counting(keyVault());
    const cached = new CachedSecretVault(inner, 60_000, () => now);
    const ref = await cached.put("partner-z-webhook", "zed");
    expect(await Promise.all([cached.get(ref), cached.get(ref), cached.get(ref)])).toEqual(["zed", "zed", "zed"]);
    expect(reads).toHaveLength(1);
    now = 60_000;
    expect(await cached.get(ref)).toBe("zed");
    expect(reads).toHaveLength(2);

    now = 200_000;
    vault.failWith(503);
    await expect(cached.get(ref)).rejects.toThrow();
    vault.failWith(undefined);
    expect(await cached.get(ref)).toBe("zed");
    expect(reads).toHaveLength(4);
  });
});

describe("partners' webhook signing secrets with a vault", () => {
  it("keeps only a reference in the partners table, the secret in the vault", async () => {
    const store = new PartnerStore(storage, undefined, keyVault());
    const created = await store.createPartner({ partnerId: "vaulted-oem", tenants: ["contoso.onmicrosoft.com"] });
    const row = await storage.partners.getEntity<Record<string, unknown>>("vaulted-oem", "partner");
    expect(row.webhookSecret).toBe("");
    expect(row.webhookSecretRef).toMatch(new RegExp(`^${webhookSecretName("vaulted-oem")}/[0-9a-f]{32}$`));
    expect(JSON.stringify(row)).not.toContain(created.webhookSecret);
    expect(vault.versions(webhookSecretName("vaulted-oem")).map((v) => v.value)).toEqual([created.webhookSecret]);
    expect(await store.webhookSecretsFor("vaulted-oem")).toEqual([created.webhookSecret]);
  });

  it("rotation adds a version; both sign during the overlap, then only the new one", async () => {
    const store = new PartnerStore(storage, undefined, keyVault());
    const before = await store.webhookSecretFor("vaulted-oem");
    const out: string[] = [];
    const code = await runPartnersCommand(["rotate-webhook-secret", "vaulted-oem"], store, {
      out: (l) => out.push(l),
      err: (l) => out.push(l),
    });
    expect(code).toBe(0);
    const after = /whsec_[A-Za-z0-9+/]{43}=/.exec(out.join("\n"))?.[0];
    expect(vault.versions(webhookSecretName("vaulted-oem")).map((v) => v.value)).toEqual([before, after]);
    expect(await store.webhookSecretsFor("vaulted-oem")).toEqual([after, before]);
    const row = await storage.partners.getEntity<Record<string, unknown>>("vaulted-oem", "partner");
    expect([row.webhookSecret, row.previousWebhookSecret]).toEqual(["", ""]);
    const later = new PartnerStore(storage, () => new Date(Date.now() + WEBHOOK_SECRET_OVERLAP_MS + 60_000), keyVault());
    expect(await later.webhookSecretsFor("vaulted-oem")).toEqual([after]);
  });

  it("moves a partner created without a vault into it at the next rotation, the old secret still signing for the overlap", async () => {
    const created = await new PartnerStore(storage).createPartner({ partnerId: "table-oem", tenants: ["contoso.onmicrosoft.com"] });
    const store = new PartnerStore(storage, undefined, keyVault());
    const rotated = await store.rotateWebhookSecret("table-oem");
    expect(await store.webhookSecretsFor("table-oem")).toEqual([rotated.webhookSecret, created.webhookSecret]);
    const row = await storage.partners.getEntity<Record<string, unknown>>("table-oem", "partner");
    expect(row.webhookSecret).toBe("");
    expect(row.webhookSecretRef).toMatch(/^partner-table-oem-webhook\//);
  });

  it("without a vault, a partner whose secret is in one fails naming the setting", async () => {
    await expect(new PartnerStore(storage).webhookSecretsFor("vaulted-oem")).rejects.toThrow(PartnerError);
    await expect(new PartnerStore(storage).webhookSecretsFor("vaulted-oem")).rejects.toThrow(/KEY_VAULT_URL is not set/);
  });
});

describe("KEY_VAULT_URL", () => {
  const base = { AzureWebJobsStorage: "UseDevelopmentStorage=true", AzureWebJobsStorage__clientId: "c0ffee00-0000-4000-8000-000000000001" };
  it("configures the vault, read as the app's identity; unset, none", () => {
    expect(loadConfig({ ...base, KEY_VAULT_URL: "https://kv-x.vault.azure.net/" }).vault).toEqual({
      url: "https://kv-x.vault.azure.net/",
      clientId: "c0ffee00-0000-4000-8000-000000000001",
    });
    expect(loadConfig(base).vault).toBeUndefined();
  });
  it("must be an https URL, and says which setting is wrong", () => {
    expect(() => loadConfig({ ...base, KEY_VAULT_URL: "http://kv-x.vault.azure.net/" })).toThrow(SettingsError);
    expect(() => loadConfig({ ...base, KEY_VAULT_URL: "kv-x" })).toThrow(/KEY_VAULT_URL: must be the vault's https URL/);
  });
});
