import { afterAll, beforeAll } from "vitest";
import { startAzurite, type RunningAzurite } from "../../src/dev/host/azurite.js";
import { createStorageClients, ensureStorage, type StorageClients } from "../../src/storage/clients.js";

/**
 * Starts Azurite for the test file (free ports, in memory) and gives its storage clients, with
 * the app's queues and tables created. Call at the top of a file; use `clients()` inside tests.
 */
export function useAzuriteStorage(): { clients(): StorageClients } {
  let azurite: RunningAzurite | undefined;
  let clients: StorageClients | undefined;
  beforeAll(async () => {
    azurite = await startAzurite();
    clients = createStorageClients({ kind: "connectionString", connectionString: azurite.connectionString });
    await ensureStorage(clients);
  });
  afterAll(async () => {
    await azurite?.stop();
  });
  return {
    clients() {
      if (!clients) throw new Error("Azurite is not started yet: call clients() inside a test");
      return clients;
    },
  };
}
