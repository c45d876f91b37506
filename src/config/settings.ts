import { z } from "zod";
import { DEFAULT_INTAKE_LIMITS } from "../intake/limits.js";

/**
 * Every setting the app reads, in one place. The Functions host passes settings as
 * environment variables (app settings in Azure, local.settings.json under `func start`),
 * so this module is the only reader of process.env; everything else receives a typed Settings.
 */

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

    /** Intune's write budget per app per tenant (100 per 20 s), and the share of it to use. */
    PACING_WINDOW_MS: positiveInt(20_000),
    PACING_WRITES_PER_WINDOW: positiveInt(100),
    PACING_HEADROOM: z.coerce.number().gt(0).max(1).default(0.97),

    /** Delete each imported record this pipeline created once its import is final (the outcome stays in the table). */
    DELETE_IMPORTED_RECORDS: z.preprocess(emptyAsUndefined, z.stringbool().default(false)),
    /** After a batch's imports settle, ask Intune to sync Autopilot devices (once per tenant, debounced). */
    SYNC_AFTER_IMPORT: z.preprocess(emptyAsUndefined, z.stringbool().default(false)),
    SYNC_DEBOUNCE_MS: positiveInt(60_000),

    RETRY_MAX_ATTEMPTS: positiveInt(8),
    RETRY_BASE_DELAY_MS: positiveInt(2_000),
    RETRY_MAX_DELAY_MS: positiveInt(900_000),
    FOLLOW_UP_FIRST_DELAY_MS: positiveInt(15_000),
    FOLLOW_UP_MAX_DELAY_MS: positiveInt(300_000),
    IMPORT_SETTLE_TIMEOUT_MS: positiveInt(7_200_000),
    STATUS_RETRY_AFTER_SECONDS: nonNegativeInt(5),
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
    if (s.HASH_MIN_BYTES > s.HASH_MAX_BYTES) {
      ctx.addIssue({ code: "custom", path: ["HASH_MIN_BYTES"], message: "must not exceed HASH_MAX_BYTES" });
    }
    if (s.RETRY_BASE_DELAY_MS > s.RETRY_MAX_DELAY_MS) {
      ctx.addIssue({ code: "custom", path: ["RETRY_BASE_DELAY_MS"], message: "must not exceed RETRY_MAX_DELAY_MS" });
    }
  });

export type RawSettings = z.infer<typeof settingsSchema>;

/** The names of every setting, for the README and the infrastructure cross-check. */
export const SETTING_NAMES = Object.keys(settingsSchema.shape) as (keyof RawSettings)[];

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
