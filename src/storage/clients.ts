import { TableClient } from "@azure/data-tables";
import { createDefaultHttpClient } from "@azure/core-rest-pipeline";
import { ManagedIdentityCredential, DefaultAzureCredential, type TokenCredential } from "@azure/identity";
import { QueueClient, QueueServiceClient } from "@azure/storage-queue";
import type { StorageConnection, StorageRetry } from "../config/config.js";
import { STORAGE_RETRY_DEFAULTS } from "../config/settings.js";
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
import { ServiceClock } from "./serviceClock.js";

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
  /** The table service's time as this instance reckons it (serviceClock.ts): the clock every instance's write slots are kept by. */
  clock: ServiceClock;
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

/**
 * How the storage SDKs retry a request that failed (refused, reset, 5xx, 408): by default every
 * 250 ms doubling up to 2 s (STORAGE_RETRY_DELAY_MS, STORAGE_RETRY_MAX_DELAY_MS), about 8 s in all,
 * each try cut at 30 s. The SDKs' own defaults back off to
 * 4 s (tables) and 4, 8, 16 s (queues): a function that met an outage then slept up to 16 s after
 * storage was back, holding its message, and a poll round caught by a 3 s outage went on 5.5 s
 * after it (the storm bench). Capped at 2 s, every paused step resumes within 2 s of storage's
 * return. The whole span stays under 10 s, below any function timeout (5 minutes here; 6 and 10 s
 * in fault scenarios): a function still retrying when its host gives up on it would run on beside
 * its message's next delivery. A longer outage fails the function, and its message comes back
 * after host.json's visibilityTimeout.
 */
const tableRetry = (r: StorageRetry) => ({ maxRetries: 6, retryDelayInMs: r.delayMs, maxRetryDelayInMs: r.maxDelayMs });
const queueRetry = (r: StorageRetry) => ({
  maxTries: 7,
  retryDelayInMs: r.delayMs,
  maxRetryDelayInMs: r.maxDelayMs,
  tryTimeoutInMs: 30_000,
});
/** No table request waits for an answer longer than this (the tables SDK has no per-try timeout of its own). */
const TABLE_TRY_TIMEOUT_MS = 30_000;

/** Clients for every queue and table the app uses, from either a connection string or an identity. */
export function createStorageClients(
  connection: StorageConnection,
  clockSource: "storage" | "local" = "storage",
  retry: StorageRetry = STORAGE_RETRY_DEFAULTS,
): StorageClients {
  const TABLE_RETRY = tableRetry(retry);
  const QUEUE_RETRY = queueRetry(retry);
  const clock = new ServiceClock(Date.now, clockSource === "storage");
  // Outages are reckoned in the shared clock too: the worker compares them with slots.
  const reachability = new StorageReachability(clock.now);
  const httpClient = observingHttpClient(createDefaultHttpClient(), reachability, clock, TABLE_TRY_TIMEOUT_MS);
  if (connection.kind === "connectionString") {
    const cs = connection.connectionString;
    // Azurite speaks plain http; the tables SDK refuses that unless told.
    const insecure = /DefaultEndpointsProtocol=http;|UseDevelopmentStorage=true|TableEndpoint=http:/i.test(cs);
    const tableOptions = { httpClient, retryOptions: TABLE_RETRY, ...(insecure ? { allowInsecureConnection: true } : {}) };
    return {
      deviceQueue: new QueueClient(cs, DEVICE_QUEUE, { retryOptions: QUEUE_RETRY }),
      poisonQueue: new QueueClient(cs, DEVICE_POISON_QUEUE, { retryOptions: QUEUE_RETRY }),
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
      queueNamed: (name) => new QueueClient(cs, name, { retryOptions: QUEUE_RETRY }),
      pollingQueueNamed: (name) => new QueueClient(cs, name, { retryOptions: ONE_TRY }),
      reachability,
      clock,
    };
  }
  const credential = storageCredential(connection);
  const queues = new QueueServiceClient(connection.queueServiceUri, credential, { retryOptions: QUEUE_RETRY });
  const pollingQueues = new QueueServiceClient(connection.queueServiceUri, credential, { retryOptions: ONE_TRY });
  const tableUri = connection.tableServiceUri.replace(/\/+$/, "");
  const tableOptions = { httpClient, retryOptions: TABLE_RETRY };
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
    clock,
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
