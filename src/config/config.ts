import type { IntakeLimits } from "../intake/limits.js";
import { parseSettings, type RawSettings } from "./settings.js";

export type StorageConnection =
  | { kind: "connectionString"; connectionString: string }
  | { kind: "identity"; queueServiceUri: string; tableServiceUri: string; clientId?: string };

export type GraphCredentialConfig =
  | { kind: "managed-identity"; clientId?: string }
  /** A multi-tenant app registration trusting a managed identity (federated credential): no secret anywhere. */
  | { kind: "federated-managed-identity"; tenantId: string; clientId: string; managedIdentityClientId: string }
  | { kind: "client-secret"; tenantId: string; clientId: string; clientSecret: string }
  | { kind: "client-certificate"; tenantId: string; clientId: string; certificatePath: string }
  | { kind: "simulator"; appId: string };

export interface RetryPolicy {
  /** Graph attempts per device before it ends as failed: retries exhausted. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface PacingPolicy {
  windowMs: number;
  writesPerWindow: number;
  /** Share of the budget to plan for, leaving room for timing jitter between instances. */
  headroom: number;
}

export interface FollowUpPolicy {
  firstDelayMs: number;
  maxDelayMs: number;
  /** A device whose import has not settled this long after its create ends as failed: import timed out. */
  settleTimeoutMs: number;
}

export interface AppConfig {
  storage: StorageConnection;
  graph: {
    baseUrl: string;
    apiVersion: "v1.0" | "beta";
    requestTimeoutMs: number;
    credential: GraphCredentialConfig;
    defaultTenantId?: string;
  };
  intake: IntakeLimits & { enqueueConcurrency: number };
  retry: RetryPolicy;
  pacing: PacingPolicy;
  followUp: FollowUpPolicy;
  sync: { afterImport: boolean; debounceMs: number };
  deleteImportedRecords: boolean;
  statusRetryAfterSeconds: number;
}

/** Reads and validates every setting; throws SettingsError naming each bad setting. */
export function loadConfig(env: Record<string, string | undefined> = process.env): AppConfig {
  return toAppConfig(parseSettings(env));
}

function toAppConfig(s: RawSettings): AppConfig {
  return {
    storage: s.AzureWebJobsStorage
      ? { kind: "connectionString", connectionString: s.AzureWebJobsStorage }
      : {
          kind: "identity",
          queueServiceUri: s.AzureWebJobsStorage__queueServiceUri!,
          tableServiceUri: s.AzureWebJobsStorage__tableServiceUri!,
          ...(s.AzureWebJobsStorage__clientId ? { clientId: s.AzureWebJobsStorage__clientId } : {}),
        },
    graph: {
      baseUrl: s.GRAPH_BASE_URL.replace(/\/+$/, ""),
      apiVersion: s.GRAPH_API_VERSION,
      requestTimeoutMs: s.GRAPH_REQUEST_TIMEOUT_MS,
      credential: credentialConfig(s),
      ...(s.DEFAULT_TENANT_ID ? { defaultTenantId: s.DEFAULT_TENANT_ID } : {}),
    },
    intake: {
      maxDevices: s.IMPORT_MAX_DEVICES,
      maxBodyBytes: s.IMPORT_MAX_BODY_BYTES,
      hashMinBytes: s.HASH_MIN_BYTES,
      hashMaxBytes: s.HASH_MAX_BYTES,
      enqueueConcurrency: s.ENQUEUE_CONCURRENCY,
    },
    retry: { maxAttempts: s.RETRY_MAX_ATTEMPTS, baseDelayMs: s.RETRY_BASE_DELAY_MS, maxDelayMs: s.RETRY_MAX_DELAY_MS },
    pacing: { windowMs: s.PACING_WINDOW_MS, writesPerWindow: s.PACING_WRITES_PER_WINDOW, headroom: s.PACING_HEADROOM },
    followUp: {
      firstDelayMs: s.FOLLOW_UP_FIRST_DELAY_MS,
      maxDelayMs: s.FOLLOW_UP_MAX_DELAY_MS,
      settleTimeoutMs: s.IMPORT_SETTLE_TIMEOUT_MS,
    },
    sync: { afterImport: s.SYNC_AFTER_IMPORT, debounceMs: s.SYNC_DEBOUNCE_MS },
    deleteImportedRecords: s.DELETE_IMPORTED_RECORDS,
    statusRetryAfterSeconds: s.STATUS_RETRY_AFTER_SECONDS,
  };
}

function credentialConfig(s: RawSettings): GraphCredentialConfig {
  switch (s.GRAPH_CREDENTIAL) {
    case "client-secret":
      return { kind: "client-secret", tenantId: s.AZURE_TENANT_ID!, clientId: s.AZURE_CLIENT_ID!, clientSecret: s.AZURE_CLIENT_SECRET! };
    case "client-certificate":
      return {
        kind: "client-certificate",
        tenantId: s.AZURE_TENANT_ID!,
        clientId: s.AZURE_CLIENT_ID!,
        certificatePath: s.AZURE_CLIENT_CERTIFICATE_PATH!,
      };
    case "federated-managed-identity":
      return {
        kind: "federated-managed-identity",
        tenantId: s.AZURE_TENANT_ID!,
        clientId: s.AZURE_CLIENT_ID!,
        managedIdentityClientId: s.MANAGED_IDENTITY_CLIENT_ID!,
      };
    case "simulator":
      return { kind: "simulator", appId: s.AZURE_CLIENT_ID ?? "00000000-0000-0000-0000-00000000a11e" };
    case "managed-identity":
      return { kind: "managed-identity", ...(s.AZURE_CLIENT_ID ? { clientId: s.AZURE_CLIENT_ID } : {}) };
  }
}
