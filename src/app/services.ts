import { Authenticator } from "../auth/authenticate.js";
import { entraTokenVerifier } from "../auth/entraTokens.js";
import { loadConfig, type AppConfig } from "../config/config.js";
import { createGraphCredential } from "../graph/credentials.js";
import { GraphClient } from "../graph/graphClient.js";
import type { Logger } from "../telemetry/logging.js";
import { createStorageClients, ensureStorage, type StorageClients } from "../storage/clients.js";
import { DeviceQueue } from "../storage/deviceQueue.js";
import { FANOUT_QUEUE, FOLLOWER_QUEUE } from "../storage/names.js";
import { FanOutQueue } from "../intake/fanOutMessage.js";
import { FanOutProgress } from "../intake/fanOutProgress.js";
import { SendLimiter } from "../storage/sendLimiter.js";
import { BatchIndex } from "../storage/batchIndex.js";
import { DeregistrationStore } from "../deregistration/deregistrationStore.js";
import { ImportStore } from "../storage/importStore.js";
import { IntakeJournal } from "../intake/intakeJournal.js";
import { PartnerStore } from "../auth/partnerStore.js";
import { vaultFromConfig } from "../secrets/vaultFromConfig.js";
import { IdempotencyStore } from "../intake/idempotencyStore.js";
import { RateLimitStore } from "../auth/rateLimitStore.js";
import { TenantPacing } from "../storage/tenantPacing.js";
import { appLogger } from "../telemetry/appLogger.js";
import { pacingBudget } from "../model/pacing.js";
import { ChunkClaims } from "../worker/chunkClaims.js";
import { createWebhookServices, type WebhookServices } from "../webhooks/webhookServices.js";

/** Everything a function needs, built once per process and shared by every invocation. */
export interface Services {
  config: AppConfig;
  storage: StorageClients;
  store: ImportStore;
  /** Each partner's batches, newest first (GET /api/imports); the store writes it at intake. */
  batchIndex: BatchIndex;
  /** Deregistration batches (returns, resales, swaps): rows in the same `imports` table, listed in their own index. */
  deregistrations: DeregistrationStore;
  journal: IntakeJournal;
  queue: DeviceQueue;
  /** Batches' fan-out messages (names.ts, FANOUT_QUEUE) and each range's progress (in the imports table). */
  fanOut: FanOutQueue;
  fanOutProgress: FanOutProgress;
  /** The fan-out's device message sends of this instance, all ranges together, at most FANOUT_CONCURRENCY at once. */
  fanOutSends: SendLimiter;
  pacing: TenantPacing;
  graph: GraphClient;
  partners: PartnerStore;
  /** Turns a request's API key or Entra ID token into the calling partner. */
  authenticator: Authenticator;
  /** Each partner's intake rate limit and Idempotency-Key records, shared by every instance through Table storage. */
  rateLimit: RateLimitStore;
  idempotency: IdempotencyStore;
  /** Batch-completion webhooks: event records, delivery queue, the SSRF-safe poster, partners' signing secrets. */
  webhooks: WebhookServices;
  /** What this instance has read of chunks, for their followers (src/worker/chunkClaims.ts). */
  chunkClaims: ChunkClaims;
  log: Logger;
}

export type ServicesProvider = () => Promise<Services>;

export async function createServices(config: AppConfig, log: Logger = appLogger()): Promise<Services> {
  const storage = createStorageClients(config.storage, config.pacing.clock, config.storageRetry);
  await ensureStorage(storage);
  const batchIndex = new BatchIndex(storage.batchIndex);
  const partners = new PartnerStore(storage, undefined, vaultFromConfig(config.vault));
  const store = new ImportStore(storage.imports, batchIndex);
  return {
    config,
    storage,
    store,
    batchIndex,
    deregistrations: new DeregistrationStore(storage.imports, new BatchIndex(storage.deregistrationIndex)),
    journal: new IntakeJournal(storage.intakeJournal),
    queue: new DeviceQueue(storage.deviceQueue, storage.queueNamed(FOLLOWER_QUEUE)),
    fanOut: new FanOutQueue(storage.queueNamed(FANOUT_QUEUE)),
    fanOutProgress: new FanOutProgress(storage.imports),
    fanOutSends: new SendLimiter(config.intake.fanOutConcurrency),
    pacing: new TenantPacing(storage.pacing, pacingBudget(config.pacing.windowMs, config.pacing.writesPerWindow, config.pacing.headroom)),
    graph: new GraphClient({
      baseUrl: config.graph.baseUrl,
      apiVersion: config.graph.apiVersion,
      credential: createGraphCredential(config.graph.credential),
      timeoutMs: config.graph.requestTimeoutMs,
      ...appIdOf(config.graph.credential),
    }),
    partners,
    authenticator: new Authenticator({
      partners,
      ...(config.partnerApi.entra ? { tokens: entraTokenVerifier(config.partnerApi.entra) } : {}),
    }),
    rateLimit: new RateLimitStore(storage.rateLimits, config.partnerApi.intakeRate),
    idempotency: new IdempotencyStore(storage.idempotency),
    webhooks: createWebhookServices(storage, partners, config.webhooks),
    chunkClaims: new ChunkClaims(store),
    log,
  };
}

/** The app registration's client id, when the credential names one: the admin-consent link needs it. */
function appIdOf(credential: AppConfig["graph"]["credential"]): { appId?: string } {
  switch (credential.kind) {
    case "simulator":
      return { appId: credential.appId };
    case "managed-identity":
      return credential.clientId ? { appId: credential.clientId } : {};
    default:
      return { appId: credential.clientId };
  }
}

/** For the Functions host: settings come from the environment, read on first use and then kept. */
export function servicesFromEnvironment(log?: Logger): ServicesProvider {
  let services: Promise<Services> | undefined;
  return () => {
    services ??= createServices(loadConfig(process.env), log).catch((error) => {
      services = undefined;
      throw error;
    });
    return services;
  };
}
