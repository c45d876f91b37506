import { TableClient } from "@azure/data-tables";
import { ManagedIdentityCredential, DefaultAzureCredential, type TokenCredential } from "@azure/identity";
import { QueueClient, QueueServiceClient } from "@azure/storage-queue";
import type { StorageConnection } from "../config/config.js";
import { DEVICE_POISON_QUEUE, DEVICE_QUEUE, IMPORTS_TABLE, INTAKE_JOURNAL_TABLE, PACING_TABLE } from "./names.js";

export interface StorageClients {
  deviceQueue: QueueClient;
  poisonQueue: QueueClient;
  imports: TableClient;
  intakeJournal: TableClient;
  pacing: TableClient;
  /** Any queue of the account by name (the hosts need `<queue>-poison` queues). */
  queueNamed(name: string): QueueClient;
}

function storageCredential(connection: Extract<StorageConnection, { kind: "identity" }>): TokenCredential {
  return connection.clientId
    ? new ManagedIdentityCredential({ clientId: connection.clientId })
    : new DefaultAzureCredential();
}

/** Clients for every queue and table the app uses, from either a connection string or an identity. */
export function createStorageClients(connection: StorageConnection): StorageClients {
  if (connection.kind === "connectionString") {
    const cs = connection.connectionString;
    // Azurite speaks plain http; the tables SDK refuses that unless told.
    const insecure = /DefaultEndpointsProtocol=http;|UseDevelopmentStorage=true|TableEndpoint=http:/i.test(cs);
    const tableOptions = insecure ? { allowInsecureConnection: true } : {};
    return {
      deviceQueue: new QueueClient(cs, DEVICE_QUEUE),
      poisonQueue: new QueueClient(cs, DEVICE_POISON_QUEUE),
      imports: TableClient.fromConnectionString(cs, IMPORTS_TABLE, tableOptions),
      intakeJournal: TableClient.fromConnectionString(cs, INTAKE_JOURNAL_TABLE, tableOptions),
      pacing: TableClient.fromConnectionString(cs, PACING_TABLE, tableOptions),
      queueNamed: (name) => new QueueClient(cs, name),
    };
  }
  const credential = storageCredential(connection);
  const queues = new QueueServiceClient(connection.queueServiceUri, credential);
  const tableUri = connection.tableServiceUri.replace(/\/+$/, "");
  return {
    deviceQueue: queues.getQueueClient(DEVICE_QUEUE),
    poisonQueue: queues.getQueueClient(DEVICE_POISON_QUEUE),
    imports: new TableClient(tableUri, IMPORTS_TABLE, credential),
    intakeJournal: new TableClient(tableUri, INTAKE_JOURNAL_TABLE, credential),
    pacing: new TableClient(tableUri, PACING_TABLE, credential),
    queueNamed: (name) => queues.getQueueClient(name),
  };
}

/** Creates the queues and tables if missing. Idempotent; run once at start-up, not per request. */
export async function ensureStorage(clients: StorageClients): Promise<void> {
  await Promise.all([
    clients.deviceQueue.createIfNotExists(),
    clients.poisonQueue.createIfNotExists(),
    clients.imports.createTable(),
    clients.intakeJournal.createTable(),
    clients.pacing.createTable(),
  ]);
}
