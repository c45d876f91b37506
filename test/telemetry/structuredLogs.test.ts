import { afterEach, describe, expect, it, vi } from "vitest";
import { consoleLogger, logRecord, structuredLogger, type LogRecord } from "../../src/telemetry/logging.js";
import { logContextOfMessage, withLogContext } from "../../src/telemetry/logContext.js";
import { runQueueMessage } from "../../src/telemetry/queueMessage.js";

afterEach(() => vi.restoreAllMocks());

describe("structured log records", () => {
  it("are one JSON object per line on the console, with level, time, message and fields", () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: string) => void lines.push(line));
    vi.spyOn(console, "warn").mockImplementation((line: string) => void lines.push(line));
    const log = consoleLogger();
    log.info("device submitted", { batchId: "b-1", rowKey: "device-000001", tenantId: "t-1", status: 201 });
    log.warn("retry scheduled", { batchId: "b-1", delayMs: 2000 });
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(line).not.toContain("\n");
    const [first, second] = lines.map((line) => JSON.parse(line) as LogRecord);
    expect(first).toMatchObject({
      level: "info",
      message: "device submitted",
      batchId: "b-1",
      rowKey: "device-000001",
      tenantId: "t-1",
      status: 201,
    });
    expect(Date.parse(first!.time)).not.toBeNaN();
    expect(second).toMatchObject({ level: "warn", message: "retry scheduled", delayMs: 2000 });
  });

  it("carry the batch, device and tenant of the work in progress, under the call's own fields", async () => {
    const records: LogRecord[] = [];
    const log = structuredLogger((r) => records.push(r));
    await withLogContext({ batchId: "b-ctx", rowKey: "device-000007", tenantId: "t-ctx" }, async () => {
      await Promise.resolve();
      log.warn("storage hiccup", { reason: "timeout" });
      log.info("explicit", { tenantId: "t-own" });
    });
    log.info("outside");
    expect(records[0]).toMatchObject({ batchId: "b-ctx", rowKey: "device-000007", tenantId: "t-ctx", reason: "timeout" });
    expect(records[1]).toMatchObject({ batchId: "b-ctx", tenantId: "t-own" });
    expect(records[2]).not.toHaveProperty("batchId");
  });

  it("scrub secrets from the message and every text field", () => {
    const record = logRecord("error", "failed for ada@contoso.com", {
      reason: "401 from Graph: Bearer eyJhbGciOiJub25lIn0.eyJ0aWQiOiJ4In0.sig",
    });
    expect(JSON.stringify(record)).not.toMatch(/ada@contoso|eyJ/);
    expect(record.reason).toContain("Bearer [redacted]");
  });

  it("take a queue message's batch and device, a sync message's tenant, and nothing else", () => {
    expect(logContextOfMessage({ v: 1, kind: "submit", batchId: "b", rowKey: "device-000001", attempt: 1, slotAt: 5 })).toEqual({
      batchId: "b",
      rowKey: "device-000001",
    });
    expect(logContextOfMessage({ v: 1, kind: "syncTenant", batchId: "tenant-x", rowKey: "sync", attempt: 1 })).toEqual({
      tenantId: "tenant-x",
    });
    expect(logContextOfMessage({ kind: "deleteRecords", batchId: "b", rowKey: "batch", tenantId: "t", graphIds: ["g"] })).toEqual({
      batchId: "b",
      rowKey: "batch",
      tenantId: "t",
    });
    expect(logContextOfMessage("not json")).toEqual({});
    expect(logContextOfMessage({ batchId: 42, rowKey: "x".repeat(500) })).toEqual({});
  });

  it("are tagged with the message being processed by the hosts' queue wrapper", async () => {
    const records: LogRecord[] = [];
    const log = structuredLogger((r) => records.push(r));
    await runQueueMessage({ v: 1, kind: "pollBatch", batchId: "b-poll", rowKey: "batch", attempt: 2 }, async () => log.info("polled"));
    expect(records[0]).toMatchObject({ batchId: "b-poll", message: "polled" });
  });
});
