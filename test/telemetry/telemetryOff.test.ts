import { metrics, trace } from "@opentelemetry/api";
import { describe, expect, it, vi } from "vitest";
import { loadConfig } from "../../src/config/config.js";
import { parseTelemetrySettings, SettingsError } from "../../src/config/settings.js";
import { appLogger } from "../../src/telemetry/appLogger.js";
import { startTelemetry, telemetryState } from "../../src/telemetry/telemetry.js";

const STORAGE = { AzureWebJobsStorage: "UseDevelopmentStorage=true" };
const CONNECTION =
  "InstrumentationKey=00000000-0000-4000-8000-00000000c0de;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/";

describe("telemetry settings", () => {
  it("are off without a connection string, on with one, and Entra ID ingestion names its identity", () => {
    expect(loadConfig(STORAGE).telemetry).toBeUndefined();
    expect(loadConfig({ ...STORAGE, APPLICATIONINSIGHTS_CONNECTION_STRING: "" }).telemetry).toBeUndefined();
    expect(loadConfig({ ...STORAGE, APPLICATIONINSIGHTS_CONNECTION_STRING: CONNECTION }).telemetry).toEqual({
      connectionString: CONNECTION,
    });
    expect(
      loadConfig({
        ...STORAGE,
        APPLICATIONINSIGHTS_CONNECTION_STRING: CONNECTION,
        APPLICATIONINSIGHTS_AUTHENTICATION_STRING: "ClientId=1234-abcd;Authorization=AAD",
      }).telemetry,
    ).toEqual({ connectionString: CONNECTION, entraId: { clientId: "1234-abcd" } });
  });

  it("fail fast naming the setting, for the Functions entry point too", () => {
    expect(() => parseTelemetrySettings({ APPLICATIONINSIGHTS_CONNECTION_STRING: "not a connection string" })).toThrow(SettingsError);
    expect(() => parseTelemetrySettings({ APPLICATIONINSIGHTS_CONNECTION_STRING: "nope" })).toThrow(
      /APPLICATIONINSIGHTS_CONNECTION_STRING/,
    );
    expect(() =>
      loadConfig({
        ...STORAGE,
        APPLICATIONINSIGHTS_CONNECTION_STRING: CONNECTION,
        APPLICATIONINSIGHTS_AUTHENTICATION_STRING: "Authorization=ikey",
      }),
    ).toThrow(/APPLICATIONINSIGHTS_AUTHENTICATION_STRING/);
  });
});

describe("telemetry without a connection string", () => {
  it("initialises nothing: no SDK, no providers, no log export", async () => {
    const noopMeterProvider = metrics.getMeterProvider();
    const state = await startTelemetry(loadConfig(STORAGE).telemetry);
    expect(state).toEqual({ enabled: false, functionsInstrumented: false });
    expect(telemetryState()).toEqual({ enabled: false, functionsInstrumented: false });
    expect(metrics.getMeterProvider()).toBe(noopMeterProvider);
    expect(
      (globalThis as unknown as Record<symbol, Record<string, unknown> | undefined>)[Symbol.for("opentelemetry.js.api.1")]?.trace,
    ).toBeUndefined();
    expect(trace.getTracer("x").startSpan("y").isRecording()).toBe(false);
  });

  it("logs to the console only", () => {
    const printed = vi.spyOn(console, "log").mockImplementation(() => undefined);
    appLogger().info("hello", { batchId: "b" });
    expect(printed).toHaveBeenCalledTimes(1);
    expect(JSON.parse(String(printed.mock.calls[0]![0]))).toMatchObject({ message: "hello", batchId: "b" });
    printed.mockRestore();
  });
});
