import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/config.js";
import { SettingsError } from "../../src/config/settings.js";
import { storageRetriesWithin, storageTryTimeoutMs } from "../../src/storage/clients.js";

const storage = { AzureWebJobsStorage: "UseDevelopmentStorage=true" };

describe("loadConfig", () => {
  it("fills every default from an environment that only names storage", () => {
    const config = loadConfig(storage);
    expect(config.storage).toEqual({ kind: "connectionString", connectionString: "UseDevelopmentStorage=true" });
    expect(config.graph).toMatchObject({
      baseUrl: "https://graph.microsoft.com",
      apiVersion: "v1.0",
      credential: { kind: "managed-identity" },
    });
    expect(config.intake.maxDevices).toBe(10_000);
    expect(config.retry.maxAttempts).toBeGreaterThan(1);
  });

  it("imports through the import action in chunks of 100 by default; create mode means chunks of one", () => {
    expect(loadConfig(storage).importAction).toMatchObject({ mode: "import", chunkSize: 100 });
    expect(loadConfig({ ...storage, IMPORT_CHUNK_SIZE: "500" }).importAction.chunkSize).toBe(500);
    expect(loadConfig({ ...storage, GRAPH_IMPORT_MODE: "create", IMPORT_CHUNK_SIZE: "50" }).importAction).toMatchObject({
      mode: "create",
      chunkSize: 1,
    });
  });

  it.each([["0"], ["501"], ["2.5"], ["many"]])("refuses IMPORT_CHUNK_SIZE=%s, naming the setting", (value) => {
    expect(() => loadConfig({ ...storage, IMPORT_CHUNK_SIZE: value })).toThrow(/IMPORT_CHUNK_SIZE/);
  });

  it("spaces the storage clients' tries 250 ms doubling to 2 s unless told otherwise, and refuses a first delay above the cap", () => {
    expect(loadConfig(storage).storageRetry).toEqual({ delayMs: 250, maxDelayMs: 2_000, spanMs: 30_000 });
    expect(loadConfig({ ...storage, STORAGE_RETRY_DELAY_MS: "50", STORAGE_RETRY_MAX_DELAY_MS: "400" }).storageRetry).toMatchObject({
      delayMs: 50,
      maxDelayMs: 400,
    });
    expect(() => loadConfig({ ...storage, STORAGE_RETRY_DELAY_MS: "3000" })).toThrow(/STORAGE_RETRY_DELAY_MS/);
  });

  it("tries a storage request as often as its delays fit in the span: 7 tries within 8 s, 18 within the default 30 s", () => {
    expect(storageRetriesWithin({ delayMs: 250, maxDelayMs: 2_000, spanMs: 8_000 })).toBe(6);
    expect(storageRetriesWithin(loadConfig(storage).storageRetry)).toBe(17);
    expect(storageRetriesWithin({ delayMs: 50, maxDelayMs: 400, spanMs: 6_000 })).toBe(17);
    expect(storageRetriesWithin({ delayMs: 500, maxDelayMs: 500, spanMs: 100 })).toBe(1);
  });

  it("cuts each storage try short enough that every try timing out still ends within 4 minutes (under the 5-minute function timeout), never above 30 s", () => {
    expect(storageTryTimeoutMs({ delayMs: 250, maxDelayMs: 2_000, spanMs: 8_000 })).toBe(30_000);
    const production = loadConfig(storage).storageRetry;
    expect(storageTryTimeoutMs(production)).toBe(11_666);
    expect(storageTryTimeoutMs(production) * (storageRetriesWithin(production) + 1) + production.spanMs).toBeLessThanOrEqual(240_000);
  });

  it("refuses an unknown GRAPH_IMPORT_MODE, naming the setting", () => {
    expect(() => loadConfig({ ...storage, GRAPH_IMPORT_MODE: "batch" })).toThrow(/GRAPH_IMPORT_MODE/);
  });

  it("fails fast naming a missing storage setting", () => {
    expect(() => loadConfig({})).toThrow(SettingsError);
    expect(() => loadConfig({})).toThrow(/AzureWebJobsStorage/);
  });

  it("names the bad setting and says what is wrong with it", () => {
    try {
      loadConfig({ ...storage, IMPORT_MAX_DEVICES: "lots", GRAPH_API_VERSION: "v2" });
      expect.unreachable();
    } catch (error) {
      const settings = (error as SettingsError).problems.map((p) => p.setting).sort();
      expect(settings).toEqual(["GRAPH_API_VERSION", "IMPORT_MAX_DEVICES"]);
    }
  });

  it.each(["0", "3651", "30.5", "a month"])("refuses BATCH_RETENTION_DAYS=%s, naming it", (value) => {
    expect(() => loadConfig({ ...storage, BATCH_RETENTION_DAYS: value })).toThrow(/BATCH_RETENTION_DAYS/);
  });

  it("keeps a final batch 30 days by default", () => {
    expect(loadConfig(storage).batchRetentionMs).toBe(30 * 86_400_000);
    expect(loadConfig({ ...storage, BATCH_RETENTION_DAYS: "3650" }).batchRetentionMs).toBe(3650 * 86_400_000);
  });

  it("requires the secret's companions for a client-secret credential", () => {
    expect(() => loadConfig({ ...storage, GRAPH_CREDENTIAL: "client-secret", AZURE_CLIENT_ID: "app" })).toThrow(
      /AZURE_TENANT_ID.*AZURE_CLIENT_SECRET|AZURE_CLIENT_SECRET.*AZURE_TENANT_ID/s,
    );
  });

  it("accepts identity-based storage in place of a connection string", () => {
    const config = loadConfig({
      AzureWebJobsStorage__queueServiceUri: "https://acct.queue.core.windows.net",
      AzureWebJobsStorage__tableServiceUri: "https://acct.table.core.windows.net",
      AzureWebJobsStorage__clientId: "abc",
    });
    expect(config.storage).toEqual({
      kind: "identity",
      queueServiceUri: "https://acct.queue.core.windows.net",
      tableServiceUri: "https://acct.table.core.windows.net",
      clientId: "abc",
    });
  });

  it("treats an empty setting as unset", () => {
    expect(loadConfig({ ...storage, GRAPH_BASE_URL: "" }).graph.baseUrl).toBe("https://graph.microsoft.com");
  });
});

describe("federated managed identity", () => {
  it("needs the app, its home tenant and the trusted identity", () => {
    expect(() => loadConfig({ ...storage, GRAPH_CREDENTIAL: "federated-managed-identity", AZURE_CLIENT_ID: "app" })).toThrow(
      /AZURE_TENANT_ID/,
    );
    const config = loadConfig({
      ...storage,
      GRAPH_CREDENTIAL: "federated-managed-identity",
      AZURE_CLIENT_ID: "app",
      AZURE_TENANT_ID: "home",
      MANAGED_IDENTITY_CLIENT_ID: "mi",
    });
    expect(config.graph.credential).toEqual({
      kind: "federated-managed-identity",
      tenantId: "home",
      clientId: "app",
      managedIdentityClientId: "mi",
    });
  });
});
