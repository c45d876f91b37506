import { metrics, trace } from "@opentelemetry/api";
import { describe, expect, it, vi } from "vitest";
import { loadConfig } from "../../src/config/config.js";
import { parseTelemetrySettings, SettingsError } from "../../src/config/settings.js";
import { bridgeApiRegistration, GLOBAL_API_KEY } from "../../src/telemetry/apiBridge.js";
import { appLogger } from "../../src/telemetry/appLogger.js";
import { startTelemetry, telemetryState } from "../../src/telemetry/telemetry.js";

const STORAGE = { AzureWebJobsStorage: "UseDevelopmentStorage=true" };
const CONNECTION = "InstrumentationKey=00000000-0000-4000-8000-00000000c0de;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/";

describe("telemetry settings", () => {
  it("are off without a connection string, on with one, and Entra ID ingestion names its identity", () => {
    expect(loadConfig(STORAGE).telemetry).toBeUndefined();
    expect(loadConfig({ ...STORAGE, APPLICATIONINSIGHTS_CONNECTION_STRING: "" }).telemetry).toBeUndefined();
    expect(loadConfig({ ...STORAGE, APPLICATIONINSIGHTS_CONNECTION_STRING: CONNECTION }).telemetry).toEqual({ connectionString: CONNECTION });
    expect(
      loadConfig({ ...STORAGE, APPLICATIONINSIGHTS_CONNECTION_STRING: CONNECTION, APPLICATIONINSIGHTS_AUTHENTICATION_STRING: "ClientId=1234-abcd;Authorization=AAD" }).telemetry,
    ).toEqual({ connectionString: CONNECTION, entraId: { clientId: "1234-abcd" } });
  });

  it("fail fast naming the setting, for the Functions entry point too", () => {
    expect(() => parseTelemetrySettings({ APPLICATIONINSIGHTS_CONNECTION_STRING: "not a connection string" })).toThrow(SettingsError);
    expect(() => parseTelemetrySettings({ APPLICATIONINSIGHTS_CONNECTION_STRING: "nope" })).toThrow(/APPLICATIONINSIGHTS_CONNECTION_STRING/);
    expect(() => loadConfig({ ...STORAGE, APPLICATIONINSIGHTS_CONNECTION_STRING: CONNECTION, APPLICATIONINSIGHTS_AUTHENTICATION_STRING: "Authorization=ikey" })).toThrow(
      /APPLICATIONINSIGHTS_AUTHENTICATION_STRING/,
    );
  });
});

describe("telemetry without a connection string", () => {
  it("initialises nothing: no SDK, no providers, no log export", async () => {
    const noopMeterProvider = metrics.getMeterProvider();
    const state = await startTelemetry(loadConfig(STORAGE).telemetry);
    expect(state).toEqual({ enabled: false, functionsInstrumented: false });
    expect(telemetryState()).toEqual({ enabled: false, functionsInstrumented: false });
    expect(metrics.getMeterProvider()).toBe(noopMeterProvider);
    expect((globalThis as unknown as Record<symbol, Record<string, unknown> | undefined>)[GLOBAL_API_KEY]?.trace).toBeUndefined();
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

describe("bridgeApiRegistration", () => {
  it("marks an older registration with the newer API version, keeping its providers", () => {
    const provider = {};
    const registration = Object.defineProperty({ meter: provider } as Record<string, unknown>, "version", { value: "1.9.1", enumerable: true, writable: false });
    const holder: Record<symbol, unknown> = { [GLOBAL_API_KEY]: registration };
    expect(bridgeApiRegistration("1.10.0", holder)).toBe(true);
    expect(holder[GLOBAL_API_KEY]).toEqual({ version: "1.10.0", meter: provider });
    expect((holder[GLOBAL_API_KEY] as Record<string, unknown>).meter).toBe(provider);
  });

  it("leaves a registration that is as new or newer, or none, alone", () => {
    const same: Record<symbol, unknown> = { [GLOBAL_API_KEY]: { version: "1.10.0" } };
    const newer: Record<symbol, unknown> = { [GLOBAL_API_KEY]: { version: "1.11.2" } };
    const none: Record<symbol, unknown> = {};
    expect([bridgeApiRegistration("1.10.0", same), bridgeApiRegistration("1.10.0", newer), bridgeApiRegistration("1.10.0", none)]).toEqual([false, false, false]);
    expect(same[GLOBAL_API_KEY]).toEqual({ version: "1.10.0" });
  });
});
