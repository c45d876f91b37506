import type { FollowUpPolicy, RetryPolicy } from "../model/backoff.js";
import type { IntakeLimits } from "../model/limits.js";
import { parseSettings, type RawSettings } from "./settings.js";
import type { AllowedHost } from "../model/callbackUrl.js";

/** How the storage clients space their tries of a request storage did not answer: the first delay, doubling up to the cap. */
export interface StorageRetry {
  delayMs: number;
  maxDelayMs: number;
  /** As many tries as their delays fit in this (STORAGE_RETRY_SPAN_MS). */
  spanMs: number;
}

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

export interface PacingPolicy {
  windowMs: number;
  writesPerWindow: number;
  /** Share of the budget to plan for, leaving room for timing jitter between instances. */
  headroom: number;
  /** PACING_CLOCK: the storage service's time (shared by every instance) or the instance's own. */
  clock: "storage" | "local";
}

/**
 * How devices reach Intune. With "import", a write slot carries up to `chunkSize` devices as one
 * import action; a chunk's other devices' messages come `followerDelayMs` after its slot, as the
 * safety net (docs/ARCHITECTURE.md, "Chunks"). With "create", chunkSize is 1.
 */
export interface ImportActionPolicy {
  mode: "import" | "create";
  chunkSize: number;
  followerDelayMs: number;
}

/** Followers come this many budget windows after their chunk's slot: later than a leader that was late and took a new slot. */
export const FOLLOWER_DELAY_WINDOWS = 3;

/** Application Insights through OpenTelemetry; absent when no connection string is set. */
export interface TelemetryConfig {
  connectionString: string;
  /** Ingest with Entra ID as this managed identity (no clientId: the system-assigned one). */
  entraId?: { clientId?: string };
}

/** Who may call: Entra ID tokens (when configured), the intake rate per partner, Idempotency-Key retention. */
export interface PartnerApiConfig {
  entra?: { audience: string; issuers: string[]; jwksUrl: string };
  intakeRate: { perMinute: number; burst: number };
  idempotencyTtlMs: number;
}

/** Batch-completion webhooks: hosts let through the SSRF rule for development, the retry schedule, the attempt timeout. */
export interface WebhookConfig {
  allowedHosts: readonly AllowedHost[];
  retryScheduleMs: readonly number[];
  timeoutMs: number;
}

export interface AppConfig {
  telemetry?: TelemetryConfig;
  storage: StorageConnection;
  /** STORAGE_RETRY_DELAY_MS, STORAGE_RETRY_MAX_DELAY_MS, STORAGE_RETRY_SPAN_MS: the storage clients' tries of an unanswered request. */
  storageRetry: StorageRetry;
  graph: {
    baseUrl: string;
    apiVersion: "v1.0" | "beta";
    requestTimeoutMs: number;
    /** GRAPH_LIST_GRACE_MS: a record younger than this may be missing from a list. */
    listGraceMs: number;
    credential: GraphCredentialConfig;
    defaultTenantId?: string;
  };
  /** enqueueConcurrency: parallel table transactions and queue sends; fanOutRangeDevices: devices per fan-out message; fanOutConcurrency: an instance's fan-out sends in flight. */
  intake: IntakeLimits & { enqueueConcurrency: number; fanOutRangeDevices: number; fanOutConcurrency: number };
  retry: RetryPolicy;
  pacing: PacingPolicy;
  importAction: ImportActionPolicy;
  followUp: FollowUpPolicy;
  sync: { afterImport: boolean; debounceMs: number };
  deleteImportedRecords: boolean;
  /** BATCH_RETENTION_DAYS, in ms: how long a final batch is kept before it is erased. */
  batchRetentionMs: number;
  statusRetryAfterSeconds: number;
  partnerApi: PartnerApiConfig;
  webhooks: WebhookConfig;
  /** Key Vault for partner secrets, as the identity with this client id (none: DefaultAzureCredential); absent, secrets stay in the table. */
  vault?: { url: string; clientId?: string };
}

/** Reads and validates every setting; throws SettingsError naming each bad setting. */
export function loadConfig(env: Record<string, string | undefined> = process.env): AppConfig {
  return toAppConfig(parseSettings(env));
}

function toAppConfig(s: RawSettings): AppConfig {
  const telemetry = toTelemetryConfig(s);
  return {
    ...(telemetry ? { telemetry } : {}),
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
      listGraceMs: s.GRAPH_LIST_GRACE_MS,
      credential: credentialConfig(s),
      ...(s.DEFAULT_TENANT_ID ? { defaultTenantId: s.DEFAULT_TENANT_ID } : {}),
    },
    intake: {
      maxDevices: s.IMPORT_MAX_DEVICES,
      maxBodyBytes: s.IMPORT_MAX_BODY_BYTES,
      hashMinBytes: s.HASH_MIN_BYTES,
      hashMaxBytes: s.HASH_MAX_BYTES,
      enqueueConcurrency: s.ENQUEUE_CONCURRENCY,
      fanOutRangeDevices: s.FANOUT_RANGE_DEVICES,
      fanOutConcurrency: s.FANOUT_CONCURRENCY,
    },
    storageRetry: { delayMs: s.STORAGE_RETRY_DELAY_MS, maxDelayMs: s.STORAGE_RETRY_MAX_DELAY_MS, spanMs: s.STORAGE_RETRY_SPAN_MS },
    retry: { maxAttempts: s.RETRY_MAX_ATTEMPTS, baseDelayMs: s.RETRY_BASE_DELAY_MS, maxDelayMs: s.RETRY_MAX_DELAY_MS },
    pacing: {
      windowMs: s.PACING_WINDOW_MS,
      writesPerWindow: s.PACING_WRITES_PER_WINDOW,
      headroom: s.PACING_HEADROOM,
      clock: s.PACING_CLOCK,
    },
    importAction: {
      mode: s.GRAPH_IMPORT_MODE,
      chunkSize: s.GRAPH_IMPORT_MODE === "create" ? 1 : s.IMPORT_CHUNK_SIZE,
      followerDelayMs: FOLLOWER_DELAY_WINDOWS * s.PACING_WINDOW_MS,
    },
    followUp: {
      firstDelayMs: s.FOLLOW_UP_FIRST_DELAY_MS,
      maxDelayMs: s.FOLLOW_UP_MAX_DELAY_MS,
      settleTimeoutMs: s.IMPORT_SETTLE_TIMEOUT_MS,
      profileTimeoutMs: s.PROFILE_ASSIGN_TIMEOUT_MS,
    },
    sync: { afterImport: s.SYNC_AFTER_IMPORT, debounceMs: s.SYNC_DEBOUNCE_MS },
    deleteImportedRecords: s.DELETE_IMPORTED_RECORDS,
    batchRetentionMs: s.BATCH_RETENTION_DAYS * 86_400_000,
    statusRetryAfterSeconds: s.STATUS_RETRY_AFTER_SECONDS,
    webhooks: { allowedHosts: s.WEBHOOK_ALLOWED_HOSTS, retryScheduleMs: s.WEBHOOK_RETRY_SCHEDULE_MS, timeoutMs: s.WEBHOOK_TIMEOUT_MS },
    ...(s.KEY_VAULT_URL
      ? { vault: { url: s.KEY_VAULT_URL, ...(s.AzureWebJobsStorage__clientId ? { clientId: s.AzureWebJobsStorage__clientId } : {}) } }
      : {}),
    partnerApi: {
      ...(s.ENTRA_AUDIENCE && s.ENTRA_ISSUERS
        ? { entra: { audience: s.ENTRA_AUDIENCE, issuers: s.ENTRA_ISSUERS, jwksUrl: s.ENTRA_JWKS_URL } }
        : {}),
      intakeRate: { perMinute: s.INTAKE_RATE_PER_MINUTE, burst: s.INTAKE_RATE_BURST },
      idempotencyTtlMs: s.IDEMPOTENCY_TTL_HOURS * 3_600_000,
    },
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

export function toTelemetryConfig(
  s: Pick<RawSettings, "APPLICATIONINSIGHTS_CONNECTION_STRING" | "APPLICATIONINSIGHTS_AUTHENTICATION_STRING">,
): TelemetryConfig | undefined {
  if (!s.APPLICATIONINSIGHTS_CONNECTION_STRING) return undefined;
  const auth = s.APPLICATIONINSIGHTS_AUTHENTICATION_STRING;
  const clientId = auth ? /(?:^|;)\s*ClientId\s*=\s*([^;\s]+)/i.exec(auth)?.[1] : undefined;
  return {
    connectionString: s.APPLICATIONINSIGHTS_CONNECTION_STRING,
    ...(auth ? { entraId: clientId ? { clientId } : {} } : {}),
  };
}
