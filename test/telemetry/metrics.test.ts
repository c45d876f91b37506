import { metrics, type Attributes, type Meter, type MeterProvider } from "@opentelemetry/api";
import { afterEach, describe, expect, it } from "vitest";
import {
  countAccepted,
  countSubmitted,
  countTransition,
  errorCodeAttribute,
  METRIC_NAMES,
  recordGraphRequest,
  recordQueueAge,
} from "../../src/telemetry/metrics.js";
import { runQueueMessage } from "../../src/telemetry/queueMessage.js";

interface Sample {
  name: string;
  value: number;
  attributes?: Attributes;
}

/** A meter provider that remembers every measurement, standing in for the SDK's. */
function recordingProvider(samples: Sample[]): MeterProvider {
  const instrument = (name: string) => ({
    add: (value: number, attributes?: Attributes) => void samples.push({ name, value, ...(attributes ? { attributes } : {}) }),
    record: (value: number, attributes?: Attributes) => void samples.push({ name, value, ...(attributes ? { attributes } : {}) }),
  });
  const meter = { createCounter: instrument, createHistogram: instrument } as unknown as Meter;
  return { getMeter: () => meter };
}

afterEach(() => metrics.disable());

describe("pipeline metrics", () => {
  it("go to whichever provider is registered, even one registered after the first measurement", () => {
    countAccepted(3, "json"); // the no-op provider: must not throw, must not be remembered
    const samples: Sample[] = [];
    metrics.setGlobalMeterProvider(recordingProvider(samples));
    countAccepted(5, "csv");
    countSubmitted();
    // A poll round recording a record it found is not a second submission.
    countTransition("submitted");
    countTransition("imported");
    countTransition("failed", "806");
    countTransition("retrying", "ServiceUnavailable");
    expect(samples).toEqual([
      { name: METRIC_NAMES.accepted, value: 5, attributes: { "import.source": "csv" } },
      { name: METRIC_NAMES.submitted, value: 1 },
      { name: METRIC_NAMES.imported, value: 1 },
      { name: METRIC_NAMES.failed, value: 1, attributes: { "error.code": "806" } },
    ]);
  });

  it("time Graph requests by operation and status, and count 429s", () => {
    const samples: Sample[] = [];
    metrics.setGlobalMeterProvider(recordingProvider(samples));
    recordGraphRequest("create", 201, 120);
    recordGraphRequest("create", 429, 15);
    recordGraphRequest("list", "network-error", 30_000);
    expect(samples).toEqual([
      { name: METRIC_NAMES.graphDuration, value: 120, attributes: { "graph.operation": "create", "http.response.status_code": "201" } },
      { name: METRIC_NAMES.graphDuration, value: 15, attributes: { "graph.operation": "create", "http.response.status_code": "429" } },
      { name: METRIC_NAMES.graphThrottled, value: 1, attributes: { "graph.operation": "create" } },
      {
        name: METRIC_NAMES.graphDuration,
        value: 30_000,
        attributes: { "graph.operation": "list", "http.response.status_code": "network-error" },
      },
    ]);
  });

  it("measure a slotted message's lateness, never negative, and leave unslotted messages alone", async () => {
    const samples: Sample[] = [];
    metrics.setGlobalMeterProvider(recordingProvider(samples));
    await runQueueMessage(
      { v: 1, kind: "submit", batchId: "b", rowKey: "device-000001", attempt: 1, slotAt: 10_000 },
      async () => undefined,
      12_500,
    );
    await runQueueMessage(
      { v: 1, kind: "submit", batchId: "b", rowKey: "device-000002", attempt: 1, slotAt: 10_000 },
      async () => undefined,
      9_400,
    );
    await runQueueMessage({ v: 1, kind: "pollBatch", batchId: "b", rowKey: "batch", attempt: 1 }, async () => undefined, 9_400);
    recordQueueAge("deleteRecords", 10);
    expect(samples).toEqual([
      { name: METRIC_NAMES.queueAge, value: 2_500, attributes: { "message.kind": "submit" } },
      { name: METRIC_NAMES.queueAge, value: 0, attributes: { "message.kind": "submit" } },
      { name: METRIC_NAMES.queueAge, value: 10, attributes: { "message.kind": "deleteRecords" } },
    ]);
  });

  it("keep error codes low-cardinality: codes pass, text never does", () => {
    expect(errorCodeAttribute("806")).toBe("806");
    expect(errorCodeAttribute("RetriesExhausted")).toBe("RetriesExhausted");
    expect(errorCodeAttribute("Authorization_RequestDenied")).toBe("Authorization_RequestDenied");
    expect(errorCodeAttribute(undefined)).toBe("unknown");
    expect(errorCodeAttribute("device ada@contoso.com failed")).toBe("other");
  });
});
