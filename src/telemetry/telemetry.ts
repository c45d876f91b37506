import { createRequire } from "node:module";
import type { TelemetryConfig } from "../config/config.js";
import type { LogRecord } from "./logging.js";

/**
 * OpenTelemetry to Application Insights, on only when a connection string is set. Off, nothing
 * here is imported (the Azure Monitor distro and the Functions instrumentation are loaded by
 * dynamic import), nothing is sent and nothing is printed; the metrics and spans the code
 * records go to the OpenTelemetry API's no-op providers.
 */
export interface TelemetryState {
  enabled: boolean;
  /** The Functions host's invocations are traced and its log hook forwarded (functions/index.ts only). */
  functionsInstrumented: boolean;
}

/** The part of @opentelemetry/api-logs used here (the distro's own copy; see otelLogsApi). */
interface OtelLogger {
  emit(record: {
    severityNumber?: number;
    severityText?: string;
    body?: string;
    attributes?: Record<string, string | number | boolean>;
  }): void;
}

let state: TelemetryState = { enabled: false, functionsInstrumented: false };
let starting: Promise<TelemetryState> | undefined;
let otelLogger: OtelLogger | undefined;
let shutdown: (() => Promise<void>) | undefined;

export function telemetryState(): Readonly<TelemetryState> {
  return state;
}

export interface StartTelemetryOptions {
  /** The `@azure/functions` module namespace, under the Functions host: its invocations get traced. */
  functionsModule?: typeof import("@azure/functions");
}

/** Starts telemetry once per process; later calls get the first call's outcome. */
export function startTelemetry(config: TelemetryConfig | undefined, options: StartTelemetryOptions = {}): Promise<TelemetryState> {
  if (!config) return Promise.resolve(state);
  starting ??= start(config, options);
  return starting;
}

async function start(config: TelemetryConfig, options: StartTelemetryOptions): Promise<TelemetryState> {
  const { useAzureMonitor, shutdownAzureMonitor } = await import("@azure/monitor-opentelemetry");
  // Application Insights in the deployment refuses local (key-only) ingestion: the worker
  // authenticates as the app's managed identity, as the Functions host itself does.
  const credential = config.entraId
    ? new (await import("@azure/identity")).ManagedIdentityCredential(config.entraId.clientId ? { clientId: config.entraId.clientId } : {})
    : undefined;
  useAzureMonitor({
    azureMonitorExporterOptions: { connectionString: config.connectionString, ...(credential ? { credential } : {}) },
    enableLiveMetrics: true,
  });
  shutdown = shutdownAzureMonitor;
  otelLogger = otelLogsApi().getLogger("autopilot-import");

  let functionsInstrumented = false;
  if (options.functionsModule) {
    // A CommonJS webpack bundle: under Node's ESM loader its exports are on the default export only.
    const instrumentation = await import("@azure/functions-opentelemetry-instrumentation");
    const { AzureFunctionsInstrumentationESM } = instrumentation.default;
    // ESM is not seen by require hooks: hand the instrumentation the module it patches.
    new AzureFunctionsInstrumentationESM().registerAzFunc(options.functionsModule);
    functionsInstrumented = true;
  }
  state = { enabled: true, functionsInstrumented };
  return state;
}

/** Flushes what is buffered and stops exporting (process exit, tests). */
export async function stopTelemetry(): Promise<void> {
  await shutdown?.();
}

const SEVERITY = { info: 9, warn: 13, error: 17 } as const;

/** A log sink for the OpenTelemetry logs API: the record's fields become attributes. Off, it drops the record. */
export function otelLogSink(record: LogRecord): void {
  if (!otelLogger) return;
  const { time: _time, level, message, ...fields } = record;
  const attributes: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(fields)) if (value !== undefined) attributes[key] = value as string | number;
  otelLogger.emit({ severityNumber: SEVERITY[level], severityText: level.toUpperCase(), body: message, attributes });
}

/**
 * The logs API as the distro registered it. @opentelemetry/api-logs is the distro's
 * dependency, not ours: take the distro's own copy rather than whichever one npm hoisted.
 */
function otelLogsApi(): { getLogger(name: string): OtelLogger } {
  const require = createRequire(import.meta.url);
  const fromDistro = createRequire(require.resolve("@azure/monitor-opentelemetry"));
  return (fromDistro("@opentelemetry/api-logs") as { logs: { getLogger(name: string): OtelLogger } }).logs;
}
