import { metrics, ValueType, type Counter, type Histogram, type MeterProvider } from "@opentelemetry/api";

/**
 * The pipeline's own metrics, through the OpenTelemetry API. Without telemetry the API's
 * provider is a no-op and every call here costs next to nothing. Attributes are low-cardinality
 * by construction: error codes, operations, status codes and message kinds, never ids or text.
 */
export const METRIC_NAMES = {
  accepted: "autopilot.devices.accepted",
  submitted: "autopilot.devices.submitted",
  imported: "autopilot.devices.imported",
  failed: "autopilot.devices.failed",
  graphDuration: "autopilot.graph.request.duration",
  graphThrottled: "autopilot.graph.throttled",
  queueAge: "autopilot.queue.age",
} as const;

export const METER_NAME = "autopilot-import";

interface Instruments {
  accepted: Counter;
  submitted: Counter;
  imported: Counter;
  failed: Counter;
  graphDuration: Histogram;
  graphThrottled: Counter;
  queueAge: Histogram;
}

let cached: { provider: MeterProvider; instruments: Instruments } | undefined;

/**
 * The API hands out no proxy meter: instruments made before a provider is registered stay
 * no-ops. So instruments are (re)made whenever the global provider is a different one.
 */
function instruments(): Instruments {
  const provider = metrics.getMeterProvider();
  if (cached?.provider === provider) return cached.instruments;
  const meter = provider.getMeter(METER_NAME);
  const counter = (name: string, description: string) =>
    meter.createCounter(name, { description, unit: "{device}", valueType: ValueType.INT });
  const made: Instruments = {
    accepted: counter(METRIC_NAMES.accepted, "Devices in batches accepted by intake (answered 202)"),
    submitted: counter(METRIC_NAMES.submitted, "Devices whose create Graph accepted"),
    imported: counter(METRIC_NAMES.imported, "Devices whose import completed in Intune"),
    failed: counter(METRIC_NAMES.failed, "Devices that ended failed, by error code"),
    graphDuration: meter.createHistogram(METRIC_NAMES.graphDuration, {
      description: "Duration of Graph requests, by operation and status",
      unit: "ms",
      advice: { explicitBucketBoundaries: [25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000] },
    }),
    graphThrottled: meter.createCounter(METRIC_NAMES.graphThrottled, {
      description: "Graph requests answered 429",
      unit: "{request}",
      valueType: ValueType.INT,
    }),
    queueAge: meter.createHistogram(METRIC_NAMES.queueAge, {
      description: "Time from a message's scheduled slot to the start of its processing",
      unit: "ms",
      advice: { explicitBucketBoundaries: [100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000] },
    }),
  };
  cached = { provider, instruments: made };
  return made;
}

export type IntakeSource = "json" | "csv";

export function countAccepted(devices: number, source: IntakeSource): void {
  if (devices > 0) instruments().accepted.add(devices, { "import.source": source });
}

/**
 * A device reached a new state; the final states are counted, the others ignored. (A poll round
 * recording a record as `submitted` is not a new submission: see countSubmitted.)
 */
export function countTransition(state: string, errorCode?: string): void {
  const i = instruments();
  if (state === "imported") i.imported.add(1);
  else if (state === "failed") i.failed.add(1, { "error.code": errorCodeAttribute(errorCode) });
}

/** Graph accepted a create (201). Counted by the worker: it writes no row then (pollBatch.ts records it). */
export function countSubmitted(devices = 1): void {
  instruments().submitted.add(devices);
}

/** Graph operations: a closed set, so the attribute stays low-cardinality. */
export type GraphOperation =
  "create" | "import" | "get" | "list" | "sync" | "delete" | "listAutopilot" | "updateAutopilot" | "deleteAutopilot";

export function recordGraphRequest(operation: GraphOperation, status: number | "network-error", durationMs: number): void {
  const i = instruments();
  i.graphDuration.record(Math.max(0, durationMs), { "graph.operation": operation, "http.response.status_code": String(status) });
  if (status === 429) i.graphThrottled.add(1, { "graph.operation": operation });
}

export function recordQueueAge(kind: string, ageMs: number): void {
  instruments().queueAge.record(Math.max(0, ageMs), { "message.kind": kind });
}

/**
 * Error codes are Intune's numbers, Graph's error codes or the pipeline's own names. Anything
 * else (a message slipped in by mistake) is bucketed, so it can never explode the series count
 * or carry text into telemetry.
 */
export function errorCodeAttribute(code: string | undefined): string {
  if (!code) return "unknown";
  return /^[A-Za-z0-9_.]{1,64}$/.test(code) ? code : "other";
}
