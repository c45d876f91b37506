import { Authenticator } from "../auth/authenticate.js";
import { loadConfig, type AppConfig } from "../config/config.js";
import { createGraphCredential } from "../graph/credentials.js";
import { GraphClient } from "../graph/graphClient.js";
import { consoleLogger, type Logger } from "../logging.js";
import { createStorageClients, ensureStorage, type StorageClients } from "../storage/clients.js";
import { DeviceQueue } from "../storage/deviceQueue.js";
import { BatchIndex } from "../storage/batchIndex.js";
import { ImportStore } from "../storage/importStore.js";
import { IntakeJournal } from "../storage/intakeJournal.js";
import { PartnerStore } from "../storage/partnerStore.js";
import { TenantPacing } from "../storage/tenantPacing.js";
import { baseIntervalMs } from "../worker/pacing.js";

/** Everything a function needs, built once per process and shared by every invocation. */
export interface Services {
  config: AppConfig;
  storage: StorageClients;
  store: ImportStore;
  journal: IntakeJournal;
  queue: DeviceQueue;
  pacing: TenantPacing;
  graph: GraphClient;
  partners: PartnerStore;
  /** Turns a request's API key or Entra ID token into the calling partner. */
  authenticator: Authenticator;
  log: Logger;
}

export type ServicesProvider = () => Promise<Services>;

export async function createServices(config: AppConfig, log: Logger = consoleLogger()): Promise<Services> {
  const storage = createStorageClients(config.storage);
  await ensureStorage(storage);
  const partners = new PartnerStore(storage);
  return {
    config,
    storage,
    store: new ImportStore(storage.imports, new BatchIndex(storage.batchIndex)),
    journal: new IntakeJournal(storage.intakeJournal),
    queue: new DeviceQueue(storage.deviceQueue),
    pacing: new TenantPacing(storage.pacing, {
      baseIntervalMs: baseIntervalMs(config.pacing.windowMs, config.pacing.writesPerWindow, config.pacing.headroom),
    }),
    graph: new GraphClient({
      baseUrl: config.graph.baseUrl,
      apiVersion: config.graph.apiVersion,
      credential: createGraphCredential(config.graph.credential),
      timeoutMs: config.graph.requestTimeoutMs,
    }),
    partners,
    authenticator: new Authenticator({ partners }),
    log,
  };
}

/** For the Functions host: settings come from the environment, read on first use and then kept. */
export function servicesFromEnvironment(): ServicesProvider {
  let services: Promise<Services> | undefined;
  return () => {
    services ??= createServices(loadConfig(process.env)).catch((error) => {
      services = undefined;
      throw error;
    });
    return services;
  };
}
