import { TableClient } from "@azure/data-tables";
import { createDefaultHttpClient } from "@azure/core-rest-pipeline";
import { ManagedIdentityCredential, DefaultAzureCredential, type TokenCredential } from "@azure/identity";
import { QueueClient, QueueServiceClient } from "@azure/storage-queue";
import { queueHttpClient } from "./queueHttpClient.js";
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
 * 250 ms doubling up to 2 s (STORAGE_RETRY_DELAY_MS, STORAGE_RETRY_MAX_DELAY_MS), as many tries
 * as fit in STORAGE_RETRY_SPAN_MS (30 s: 18 tries), each cut at 11.6 s (storageTryTimeoutMs). The SDKs' own defaults
 * back off to 4 s (tables) and 4, 8, 16 s (queues): a function that met an outage then slept up
 * to 16 s after storage was back, holding its message. Capped at 2 s, every paused step resumes
 * within 2 s of storage's return. The span covers outages of that length: a shorter one (8 s
 * before) failed every function caught in a 15 s outage, and a failed function's message cannot
 * be made visible again while storage is away, so it came back only after the host's receive
 * visibility (10 minutes on Functions, 5 on the development host; the storm bench, once its
 * delays were scaled as the rest). The worst case, every try cut at its timeout, stays under
 * host.json's functionTimeout (5 minutes): a function still retrying when its host gives up on it
 * would run on beside its message's next delivery. Fault scenarios with shorter function
 * timeouts set a shorter span. A longer outage fails the function.
 */
export function storageRetriesWithin(retry: StorageRetry): number {
  let retries = 0;
  let total = 0;
  for (let delay = retry.delayMs; total + delay <= retry.spanMs; delay = Math.min(retry.maxDelayMs, delay * 2)) {
    total += delay;
    retries++;
  }
  return Math.max(1, retries);
}
/** Every try of a request cut at its timeout, and the span's delays, stay within this: under host.json's 5-minute functionTimeout. */
const WORST_CASE_MS = 240_000;
/** The longest a try waits for an answer: 30 s, shortened so that every try cut at it still fits WORST_CASE_MS. */
export function storageTryTimeoutMs(retry: StorageRetry): number {
  return Math.min(30_000, Math.floor((WORST_CASE_MS - retry.spanMs) / (storageRetriesWithin(retry) + 1)));
}
const tableRetry = (r: StorageRetry) => ({
  maxRetries: storageRetriesWithin(r),
  retryDelayInMs: r.delayMs,
  maxRetryDelayInMs: r.maxDelayMs,
});
const queueRetry = (r: StorageRetry) => ({
  maxTries: storageRetriesWithin(r) + 1,
  retryDelayInMs: r.delayMs,
  maxRetryDelayInMs: r.maxDelayMs,
  tryTimeoutInMs: storageTryTimeoutMs(r),
});

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
  // The tables SDK has no per-try timeout of its own: the observing client cuts each try.
  const httpClient = observingHttpClient(createDefaultHttpClient(), reachability, clock, storageTryTimeoutMs(retry));
  // The queue clients our code calls are observed too (the timer that drains followers calls
  // little else). Not the polling clients: on Functions the host's own receives poll, unseen by the app.
  const queueOptionsFor = (insecure: boolean) => ({ retryOptions: QUEUE_RETRY, httpClient: queueHttpClient(httpClient, insecure) });
  if (connection.kind === "connectionString") {
    const cs = connection.connectionString;
    // Azurite speaks plain http; the tables SDK refuses that unless told.
    const insecure = /DefaultEndpointsProtocol=http;|UseDevelopmentStorage=true|TableEndpoint=http:|QueueEndpoint=http:/i.test(cs);
    const tableOptions = { httpClient, retryOptions: TABLE_RETRY, ...(insecure ? { allowInsecureConnection: true } : {}) };
    const queueOptions = queueOptionsFor(insecure);
    return {
      deviceQueue: new QueueClient(cs, DEVICE_QUEUE, queueOptions),
      poisonQueue: new QueueClient(cs, DEVICE_POISON_QUEUE, queueOptions),
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
      queueNamed: (name) => new QueueClient(cs, name, queueOptions),
      pollingQueueNamed: (name) => new QueueClient(cs, name, { retryOptions: ONE_TRY }),
      reachability,
      clock,
    };
  }
  const credential = storageCredential(connection);
  const queues = new QueueServiceClient(connection.queueServiceUri, credential, queueOptionsFor(false));
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
