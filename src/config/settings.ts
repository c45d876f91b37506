import { z } from "zod";
import { DEFAULT_INTAKE_LIMITS } from "../model/limits.js";
import { parseAllowedHosts } from "../model/callbackUrl.js";
import { parseRetrySchedule } from "../model/retrySchedule.js";
import { errorMessage } from "../model/errorMessage.js";

/**
 * Every setting the app reads, in one place. The Functions host passes settings as
 * environment variables (app settings in Azure, local.settings.json under `func start`),
 * so this module is the only reader of process.env; everything else receives a typed Settings.
 */

/** The storage clients' tries (STORAGE_RETRY_DELAY_MS, STORAGE_RETRY_MAX_DELAY_MS) when nothing is set; why these: src/storage/clients.ts. */
export const STORAGE_RETRY_DEFAULTS = { delayMs: 250, maxDelayMs: 2_000, spanMs: 30_000 } as const;

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const nonNegativeInt = (fallback: number) => z.coerce.number().int().nonnegative().default(fallback);
const emptyAsUndefined = (value: unknown) => (value === "" ? undefined : value);
const optionalText = z.preprocess(emptyAsUndefined, z.string().trim().min(1).optional());

export const settingsSchema = z
  .object({
    /** Storage for queues and tables: a connection string, or (identity-based) the service URIs below. */
    AzureWebJobsStorage: optionalText,
    AzureWebJobsStorage__queueServiceUri: z.preprocess(emptyAsUndefined, z.url().optional()),
    AzureWebJobsStorage__tableServiceUri: z.preprocess(emptyAsUndefined, z.url().optional()),
    AzureWebJobsStorage__clientId: optionalText,

    GRAPH_BASE_URL: z.preprocess(emptyAsUndefined, z.url().default("https://graph.microsoft.com")),
    GRAPH_API_VERSION: z.preprocess(emptyAsUndefined, z.enum(["v1.0", "beta"]).default("v1.0")),
    GRAPH_REQUEST_TIMEOUT_MS: positiveInt(30_000),
    /**
     * How long after a create its record may still be missing from the tenant's list of imported
     * records (lists lag creates by a few seconds in real tenants): a lost create is not taken as
     * "nothing created", nor a followed record as deleted, before this.
     */
    GRAPH_LIST_GRACE_MS: positiveInt(60_000),
    /** How the app gets Graph tokens: see README "Credentials". */
    GRAPH_CREDENTIAL: z.preprocess(
      emptyAsUndefined,
      z
        .enum(["managed-identity", "federated-managed-identity", "client-secret", "client-certificate", "simulator"])
        .default("managed-identity"),
    ),
    AZURE_CLIENT_ID: optionalText,
    /** With federated-managed-identity: the user-assigned identity whose token the app registration trusts. */
    MANAGED_IDENTITY_CLIENT_ID: optionalText,
    AZURE_TENANT_ID: optionalText,
    AZURE_CLIENT_SECRET: optionalText,
    AZURE_CLIENT_CERTIFICATE_PATH: optionalText,
    /** Tenant a batch imports into when it names none. */
    DEFAULT_TENANT_ID: optionalText,

    IMPORT_MAX_DEVICES: positiveInt(DEFAULT_INTAKE_LIMITS.maxDevices),
    IMPORT_MAX_BODY_BYTES: positiveInt(DEFAULT_INTAKE_LIMITS.maxBodyBytes),
    HASH_MIN_BYTES: positiveInt(DEFAULT_INTAKE_LIMITS.hashMinBytes),
    HASH_MAX_BYTES: positiveInt(DEFAULT_INTAKE_LIMITS.hashMaxBytes),
    ENQUEUE_CONCURRENCY: positiveInt(32),
    /**
     * Devices per fan-out message (src/intake/fanOutPlan.ts): intake answers once the batch is
     * durable, and a worker sends each range's device messages afterwards. Rounded to whole chunks.
     */
    FANOUT_RANGE_DEVICES: z.coerce.number().int().min(1).max(100_000).default(1_000),
    /**
     * Device messages an instance's fan-out has in flight at once, all its ranges together: fewer
     * than intake's own concurrency, so intake's writes and the workers' claims are not queued
     * behind a big batch's sends (a storage account, like Azurite, serves them all in turn).
     */
    FANOUT_CONCURRENCY: positiveInt(8),

    /** Intune's write budget per app per tenant (100 per 20 s), and the share of it to use. */
    PACING_WINDOW_MS: positiveInt(20_000),
    PACING_WRITES_PER_WINDOW: positiveInt(100),
    PACING_HEADROOM: z.coerce.number().gt(0).max(1).default(0.97),
    /**
     * Whose clock write slots are kept by: "storage", the table service's time as each instance
     * reckons it from storage's answers (src/storage/serviceClock.ts), so instances whose clocks
     * differ still write at the same moments; "local", each instance's own clock.
     */
    PACING_CLOCK: z.preprocess(emptyAsUndefined, z.enum(["storage", "local"]).default("storage")),
    /**
     * How devices reach Intune: "import", many devices per write (Graph's import action; the
     * throttle counts requests), or "create", one POST per device (for a tenant where the action
     * misbehaves).
     */
    GRAPH_IMPORT_MODE: z.preprocess(emptyAsUndefined, z.enum(["import", "create"]).default("import")),
    /** Devices per import action (one write slot): at most 500, as the admin center's CSV upload. */
    IMPORT_CHUNK_SIZE: z.coerce.number().int().min(1).max(500).default(100),

    /** Delete each imported record this pipeline created once its import is final (the outcome stays in the table). */
    DELETE_IMPORTED_RECORDS: z.preprocess(emptyAsUndefined, z.stringbool().default(false)),
    /** After a batch's imports settle, ask Intune to sync Autopilot devices (once per tenant, debounced). */
    SYNC_AFTER_IMPORT: z.preprocess(emptyAsUndefined, z.stringbool().default(false)),
    SYNC_DEBOUNCE_MS: positiveInt(60_000),

    /**
     * How the storage clients space their tries of a request storage did not answer (refused,
     * reset, 5xx): the first delay, doubling up to the cap (src/storage/clients.ts). Tuning; the
     * bench divides these three by its time scale, as it does every other delay of the pipeline.
     */
    STORAGE_RETRY_DELAY_MS: positiveInt(STORAGE_RETRY_DEFAULTS.delayMs),
    STORAGE_RETRY_MAX_DELAY_MS: positiveInt(STORAGE_RETRY_DEFAULTS.maxDelayMs),
    /** As many tries as fit their delays in this: the longest storage outage a step waits out before it fails. */
    STORAGE_RETRY_SPAN_MS: positiveInt(STORAGE_RETRY_DEFAULTS.spanMs),
    RETRY_MAX_ATTEMPTS: positiveInt(8),
    RETRY_BASE_DELAY_MS: positiveInt(2_000),
    RETRY_MAX_DELAY_MS: positiveInt(900_000),
    FOLLOW_UP_FIRST_DELAY_MS: positiveInt(15_000),
    FOLLOW_UP_MAX_DELAY_MS: positiveInt(300_000),
    IMPORT_SETTLE_TIMEOUT_MS: positiveInt(7_200_000),
    // followUntil profileAssigned: how long after its import a device may wait for its Autopilot profile.
    PROFILE_ASSIGN_TIMEOUT_MS: positiveInt(14_400_000),
    STATUS_RETRY_AFTER_SECONDS: nonNegativeInt(5),

    /** Hosts (host or host:port, comma-separated) a callbackUrl may name although private or plain http: development and tests only. */
    WEBHOOK_ALLOWED_HOSTS: z.preprocess(emptyAsUndefined, z.string().optional()).transform((value, ctx) => {
      try {
        return parseAllowedHosts(value);
      } catch (error) {
        ctx.addIssue({ code: "custom", message: `must be comma-separated host or host:port entries: ${errorMessage(error)}` });
        return z.NEVER;
      }
    }),
    /** Delays (ms, comma-separated) before each retry of a failed webhook delivery; default 5 min, 30 min, 2 h, 5 h, 10 h, 10 h. */
    WEBHOOK_RETRY_SCHEDULE_MS: z.preprocess(emptyAsUndefined, z.string().optional()).transform((value, ctx) => {
      try {
        return parseRetrySchedule(value);
      } catch (error) {
        ctx.addIssue({ code: "custom", message: errorMessage(error) });
        return z.NEVER;
      }
    }),
    /** A webhook delivery attempt taking longer fails (and is retried). */
    WEBHOOK_TIMEOUT_MS: positiveInt(10_000),

    /** Microsoft Entra ID access tokens: accepted only when an audience is set (API keys always are). */
    ENTRA_AUDIENCE: optionalText,
    /** Comma-separated issuers accepted, e.g. https://login.microsoftonline.com/<tenant>/v2.0 (required with ENTRA_AUDIENCE). */
    ENTRA_ISSUERS: z.preprocess(
      emptyAsUndefined,
      z
        .string()
        .transform((v) =>
          v
            .split(",")
            .map((i) => i.trim())
            .filter(Boolean),
        )
        .pipe(z.array(z.url()).min(1))
        .optional(),
    ),
    ENTRA_JWKS_URL: z.preprocess(emptyAsUndefined, z.url().default("https://login.microsoftonline.com/common/discovery/v2.0/keys")),
    /** Per-partner intake rate (POST /api/imports requests per minute, 0 = no limit) and burst, shared by every instance. */
    INTAKE_RATE_PER_MINUTE: nonNegativeInt(60),
    INTAKE_RATE_BURST: positiveInt(10),
    /** How long an Idempotency-Key's answer is kept (the draft asks for at least 24 h). */
    IDEMPOTENCY_TTL_HOURS: z.coerce.number().int().min(24).default(24),
    /** Days a batch is kept after it became final; then every row of it, in every table, is erased. */
    BATCH_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),

    /**
     * The Key Vault partner webhook signing secrets are kept in (read with the app's managed
     * identity, AzureWebJobsStorage__clientId); unset, they stay in the partners table.
     */
    KEY_VAULT_URL: z.preprocess(
      emptyAsUndefined,
      z.url({ protocol: /^https$/, error: "must be the vault's https URL, e.g. https://kv-name.vault.azure.net/" }).optional(),
    ),

    /** Application Insights: set, telemetry (OpenTelemetry) is on; unset, nothing is loaded or sent. */
    APPLICATIONINSIGHTS_CONNECTION_STRING: z.preprocess(
      emptyAsUndefined,
      z
        .string()
        .trim()
        .regex(
          /InstrumentationKey=[0-9a-f-]{36}/i,
          "must be an Application Insights connection string (InstrumentationKey=…;IngestionEndpoint=…)",
        )
        .optional(),
    ),
    /** `Authorization=AAD;ClientId=<identity>`: ingest with the managed identity (Application Insights with local auth off). */
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: z.preprocess(
      emptyAsUndefined,
      z
        .string()
        .trim()
        .regex(
          /(^|;)\s*Authorization\s*=\s*AAD\s*(;|$)/i,
          "must be Authorization=AAD, optionally with ;ClientId=<managed identity client id>",
        )
        .optional(),
    ),
  })
  .superRefine((s, ctx) => {
    if (!s.AzureWebJobsStorage && !(s.AzureWebJobsStorage__queueServiceUri && s.AzureWebJobsStorage__tableServiceUri)) {
      ctx.addIssue({
        code: "custom",
        path: ["AzureWebJobsStorage"],
        message:
          "set a storage connection string, or both AzureWebJobsStorage__queueServiceUri and AzureWebJobsStorage__tableServiceUri for identity-based access",
      });
    }
    if (s.GRAPH_CREDENTIAL === "client-secret") {
      for (const name of ["AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET"] as const) {
        if (!s[name]) ctx.addIssue({ code: "custom", path: [name], message: "required when GRAPH_CREDENTIAL=client-secret" });
      }
    }
    if (s.GRAPH_CREDENTIAL === "federated-managed-identity") {
      for (const name of ["AZURE_CLIENT_ID", "AZURE_TENANT_ID", "MANAGED_IDENTITY_CLIENT_ID"] as const) {
        if (!s[name]) ctx.addIssue({ code: "custom", path: [name], message: "required when GRAPH_CREDENTIAL=federated-managed-identity" });
      }
    }
    if (s.GRAPH_CREDENTIAL === "client-certificate") {
      for (const name of ["AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_CERTIFICATE_PATH"] as const) {
        if (!s[name]) ctx.addIssue({ code: "custom", path: [name], message: "required when GRAPH_CREDENTIAL=client-certificate" });
      }
    }
    if (s.ENTRA_AUDIENCE && !s.ENTRA_ISSUERS) {
      ctx.addIssue({
        code: "custom",
        path: ["ENTRA_ISSUERS"],
        message: "required when ENTRA_AUDIENCE is set: the token issuers to accept",
      });
    }
    if (s.HASH_MIN_BYTES > s.HASH_MAX_BYTES) {
      ctx.addIssue({ code: "custom", path: ["HASH_MIN_BYTES"], message: "must not exceed HASH_MAX_BYTES" });
    }
    if (s.STORAGE_RETRY_DELAY_MS > s.STORAGE_RETRY_MAX_DELAY_MS) {
      ctx.addIssue({ code: "custom", path: ["STORAGE_RETRY_DELAY_MS"], message: "must not exceed STORAGE_RETRY_MAX_DELAY_MS" });
    }
    if (s.RETRY_BASE_DELAY_MS > s.RETRY_MAX_DELAY_MS) {
      ctx.addIssue({ code: "custom", path: ["RETRY_BASE_DELAY_MS"], message: "must not exceed RETRY_MAX_DELAY_MS" });
    }
  });

export type RawSettings = z.infer<typeof settingsSchema>;

/** The names of every setting, for the README and the infrastructure cross-check. */
export const SETTING_NAMES = Object.keys(settingsSchema.shape) as (keyof RawSettings)[];

/**
 * Only the telemetry settings, for the Functions entry point, which must start telemetry before
 * anything else is loaded (the other settings are read when the first function runs).
 */
export function parseTelemetrySettings(
  env: Record<string, string | undefined>,
): Pick<RawSettings, "APPLICATIONINSIGHTS_CONNECTION_STRING" | "APPLICATIONINSIGHTS_AUTHENTICATION_STRING"> {
  const schema = z.object({
    APPLICATIONINSIGHTS_CONNECTION_STRING: settingsSchema.shape.APPLICATIONINSIGHTS_CONNECTION_STRING,
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: settingsSchema.shape.APPLICATIONINSIGHTS_AUTHENTICATION_STRING,
  });
  const result = schema.safeParse({
    APPLICATIONINSIGHTS_CONNECTION_STRING: env.APPLICATIONINSIGHTS_CONNECTION_STRING,
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: env.APPLICATIONINSIGHTS_AUTHENTICATION_STRING,
  });
  if (!result.success) {
    throw new SettingsError(
      result.error.issues.map((issue) => ({ setting: String(issue.path[0] ?? "(settings)"), message: issue.message })),
    );
  }
  return result.data;
}

export class SettingsError extends Error {
  constructor(readonly problems: { setting: string; message: string }[]) {
    super(`Invalid configuration: ${problems.map((p) => `${p.setting}: ${p.message}`).join("; ")}`);
    this.name = "SettingsError";
  }
}

export function parseSettings(env: Record<string, string | undefined>): RawSettings {
  const picked = Object.fromEntries(SETTING_NAMES.map((name) => [name, env[name]]));
  const result = settingsSchema.safeParse(picked);
  if (!result.success) {
    throw new SettingsError(
      result.error.issues.map((issue) => ({ setting: String(issue.path[0] ?? "(settings)"), message: issue.message })),
    );
  }
  return result.data;
}
