import { TableClient } from "@azure/data-tables";
import { createDefaultHttpClient } from "@azure/core-rest-pipeline";
import { ManagedIdentityCredential, DefaultAzureCredential, type TokenCredential } from "@azure/identity";
import { QueueClient, QueueServiceClient } from "@azure/storage-queue";
import type { StorageConnection } from "../config/config.js";
import {
  DEVICE_POISON_QUEUE,
  FOLLOWER_POISON_QUEUE,
  FANOUT_QUEUE,
  FANOUT_POISON_QUEUE,
  FOLLOWER_QUEUE,
  DEVICE_QUEUE,
  IDEMPOTENCY_TABLE,
  BATCH_INDEX_TABLE,
  DEREGISTRATION_INDEX_TABLE,
  IMPORTS_TABLE,
  INTAKE_JOURNAL_TABLE,
  PACING_TABLE,
  PARTNER_APPS_TABLE,
  PARTNER_KEYS_TABLE,
  PARTNERS_TABLE,
  RATE_LIMIT_TABLE,
  WEBHOOK_POISON_QUEUE,
  WEBHOOK_QUEUE,
} from "./names.js";
import { observingHttpClient, StorageReachability } from "./storageReachability.js";

export interface StorageClients {
  deviceQueue: QueueClient;
  poisonQueue: QueueClient;
  imports: TableClient;
  batchIndex: TableClient;
  /** Deregistration batches by partner; the batches themselves live in `imports`, beside the import batches. */
  deregistrationIndex: TableClient;
  intakeJournal: TableClient;
  pacing: TableClient;
  partners: TableClient;
  partnerKeys: TableClient;
  partnerApps: TableClient;
  idempotency: TableClient;
  rateLimits: TableClient;
  /** Whether this instance's table requests have been answered (storageReachability.ts): how the worker tells an outage from a slow moment. */
  reachability: StorageReachability;
  /** Any queue of the account by name (the hosts need `<queue>-poison` queues). */
  queueNamed(name: string): QueueClient;
  /**
   * A queue polled as the Functions host polls it: one try per receive, so the poller's own
   * backoff (maxPollingInterval) decides when it looks again. With the SDK's retries (4 s growing
   * to 16 s apart) a poll that met an outage kept its listener asleep up to 28 s after storage
   * was back, and every slot in that time was missed (the development host's pump).
   */
  pollingQueueNamed(name: string): QueueClient;
}

function storageCredential(connection: Extract<StorageConnection, { kind: "identity" }>): TokenCredential {
  return connection.clientId ? new ManagedIdentityCredential({ clientId: connection.clientId }) : new DefaultAzureCredential();
}

const ONE_TRY = { maxTries: 1 };

/** Clients for every queue and table the app uses, from either a connection string or an identity. */
export function createStorageClients(connection: StorageConnection): StorageClients {
  const reachability = new StorageReachability();
  const httpClient = observingHttpClient(createDefaultHttpClient(), reachability);
  if (connection.kind === "connectionString") {
    const cs = connection.connectionString;
    // Azurite speaks plain http; the tables SDK refuses that unless told.
    const insecure = /DefaultEndpointsProtocol=http;|UseDevelopmentStorage=true|TableEndpoint=http:/i.test(cs);
    const tableOptions = { httpClient, ...(insecure ? { allowInsecureConnection: true } : {}) };
    return {
      deviceQueue: new QueueClient(cs, DEVICE_QUEUE),
      poisonQueue: new QueueClient(cs, DEVICE_POISON_QUEUE),
      imports: TableClient.fromConnectionString(cs, IMPORTS_TABLE, tableOptions),
      batchIndex: TableClient.fromConnectionString(cs, BATCH_INDEX_TABLE, tableOptions),
      deregistrationIndex: TableClient.fromConnectionString(cs, DEREGISTRATION_INDEX_TABLE, tableOptions),
      intakeJournal: TableClient.fromConnectionString(cs, INTAKE_JOURNAL_TABLE, tableOptions),
      pacing: TableClient.fromConnectionString(cs, PACING_TABLE, tableOptions),
      partners: TableClient.fromConnectionString(cs, PARTNERS_TABLE, tableOptions),
      partnerKeys: TableClient.fromConnectionString(cs, PARTNER_KEYS_TABLE, tableOptions),
      partnerApps: TableClient.fromConnectionString(cs, PARTNER_APPS_TABLE, tableOptions),
      idempotency: TableClient.fromConnectionString(cs, IDEMPOTENCY_TABLE, tableOptions),
      rateLimits: TableClient.fromConnectionString(cs, RATE_LIMIT_TABLE, tableOptions),
      queueNamed: (name) => new QueueClient(cs, name),
      pollingQueueNamed: (name) => new QueueClient(cs, name, { retryOptions: ONE_TRY }),
      reachability,
    };
  }
  const credential = storageCredential(connection);
  const queues = new QueueServiceClient(connection.queueServiceUri, credential);
  const pollingQueues = new QueueServiceClient(connection.queueServiceUri, credential, { retryOptions: ONE_TRY });
  const tableUri = connection.tableServiceUri.replace(/\/+$/, "");
  const tableOptions = { httpClient };
  return {
    deviceQueue: queues.getQueueClient(DEVICE_QUEUE),
    poisonQueue: queues.getQueueClient(DEVICE_POISON_QUEUE),
    imports: new TableClient(tableUri, IMPORTS_TABLE, credential, tableOptions),
    batchIndex: new TableClient(tableUri, BATCH_INDEX_TABLE, credential, tableOptions),
    deregistrationIndex: new TableClient(tableUri, DEREGISTRATION_INDEX_TABLE, credential, tableOptions),
    intakeJournal: new TableClient(tableUri, INTAKE_JOURNAL_TABLE, credential, tableOptions),
    pacing: new TableClient(tableUri, PACING_TABLE, credential, tableOptions),
    partners: new TableClient(tableUri, PARTNERS_TABLE, credential, tableOptions),
    partnerKeys: new TableClient(tableUri, PARTNER_KEYS_TABLE, credential, tableOptions),
    partnerApps: new TableClient(tableUri, PARTNER_APPS_TABLE, credential, tableOptions),
    idempotency: new TableClient(tableUri, IDEMPOTENCY_TABLE, credential, tableOptions),
    rateLimits: new TableClient(tableUri, RATE_LIMIT_TABLE, credential, tableOptions),
    queueNamed: (name) => queues.getQueueClient(name),
    pollingQueueNamed: (name) => pollingQueues.getQueueClient(name),
    reachability,
  };
}

/** Creates the queues and tables if missing. Idempotent; run once at start-up, not per request. */
export async function ensureStorage(clients: StorageClients): Promise<void> {
  await Promise.all([
    clients.deviceQueue.createIfNotExists(),
    clients.poisonQueue.createIfNotExists(),
    clients.queueNamed(WEBHOOK_QUEUE).createIfNotExists(),
    clients.queueNamed(WEBHOOK_POISON_QUEUE).createIfNotExists(),
    clients.queueNamed(FOLLOWER_QUEUE).createIfNotExists(),
    clients.queueNamed(FOLLOWER_POISON_QUEUE).createIfNotExists(),
    clients.queueNamed(FANOUT_QUEUE).createIfNotExists(),
    clients.queueNamed(FANOUT_POISON_QUEUE).createIfNotExists(),
    clients.imports.createTable(),
    clients.batchIndex.createTable(),
    clients.deregistrationIndex.createTable(),
    clients.intakeJournal.createTable(),
    clients.pacing.createTable(),
    clients.partners.createTable(),
    clients.partnerKeys.createTable(),
    clients.partnerApps.createTable(),
    clients.idempotency.createTable(),
    clients.rateLimits.createTable(),
  ]);
}
