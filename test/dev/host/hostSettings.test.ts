import { describe, expect, it } from "vitest";
import { loadHostSettings, parseHostJson, parseTimeSpan } from "../../../src/dev/host/hostSettings.js";

describe("host.json", () => {
  it("parses time spans as the Functions host writes them", () => {
    expect(parseTimeSpan("00:00:30")).toBe(30_000);
    expect(parseTimeSpan("01:02:03")).toBe(3_723_000);
    expect(parseTimeSpan("1.00:00:00")).toBe(86_400_000);
    expect(parseTimeSpan("00:00:00.5")).toBe(500);
    expect(() => parseTimeSpan("30s")).toThrow(/time span/);
  });

  it("applies the Functions host's defaults", () => {
    const settings = parseHostJson("{}");
    expect(settings.queues).toEqual({
      batchSize: 16,
      newBatchThreshold: 8,
      maxPollingIntervalMs: 60_000,
      visibilityTimeoutMs: 0,
      maxDequeueCount: 5,
      messageEncoding: "base64",
    });
    expect(settings.routePrefix).toBe("api");
  });

  it("reads the project's own host.json, which the development host obeys", () => {
    const settings = loadHostSettings();
    expect(settings.queues.messageEncoding).toBe("base64");
    expect(settings.queues.maxDequeueCount).toBeGreaterThan(1);
    expect(settings.queues.batchSize).toBeLessThanOrEqual(32);
  });
});
