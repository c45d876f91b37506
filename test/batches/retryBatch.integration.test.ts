import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServices, type Services } from "../../src/app/services.js";
import type { Caller } from "../../src/auth/caller.js";
import { retryBatch } from "../../src/batches/retryBatch.js";
import { isRetryable, mayHaveRecord } from "../../src/batches/retryableFailures.js";
import { loadConfig } from "../../src/config/config.js";
import { startAzurite, type RunningAzurite } from "../../src/dev/host/azurite.js";
import { submitBatch } from "../../src/intake/submitBatch.js";
import { sweepIntake } from "../../src/intake/sweepIntake.js";
import { silentLogger } from "../../src/telemetry/logging.js";
import type { DeviceMessage } from "../../src/storage/deviceMessage.js";
import type { DeviceMessageSender } from "../../src/storage/deviceQueue.js";
import { makeDevices } from "../support/devices.js";
import { withInlineFanOut } from "../support/inlineFanOut.js";

describe("the retryable failures", () => {
  it("are the pipeline's own give-ups, never Intune's or Graph's refusals of the data", () => {
    for (const code of ["RetriesExhausted", "ProcessingFailed", "ImportTimedOut", "ImportRecordMissing"])
      expect(isRetryable({ state: "failed", errorCode: code })).toBe(true);
    for (const code of ["806", "808", "802", "BadRequest", "Authorization_RequestDenied", undefined])
      expect(isRetryable({ state: "failed", errorCode: code })).toBe(false);
    expect(isRetryable({ state: "retrying", errorCode: "RetriesExhausted" })).toBe(false);
    expect(mayHaveRecord({ errorCode: "ImportRecordMissing" })).toBe(false);
    expect(mayHaveRecord({ errorCode: "RetriesExhausted" })).toBe(true);
  });
});

/** Retry on real Azurite, without Graph: what it writes and sends, under concurrency and a crash. */
let azurite: RunningAzurite;
let services: Services;
const caller: Caller = { partnerId: "retry-test", tenants: ["contoso.onmicrosoft.com"], via: "api-key" };

beforeAll(async () => {
  azurite = await startAzurite();
  services = await createServices(
    loadConfig({ AzureWebJobsStorage: azurite.connectionString, PACING_WRITES_PER_WINDOW: "10000000" }),
    silentLogger,
  );
});
afterAll(async () => azurite?.stop());

function recordingQueue(budget = Infinity): DeviceMessageSender & { sent: DeviceMessage[] } {
  const sent: DeviceMessage[] = [];
  return {
    sent,
    async send(message) {
      if (sent.length >= budget) throw new Error("queue unreachable");
      sent.push(message);
    },
  };
}

/** A finished batch of four: two retryable failures, one 806, one imported. */
async function finishedBatch(): Promise<string> {
  const queue = recordingQueue();
  const { batchId } = await submitBatch(
    withInlineFanOut(
      {
        store: services.store,
        journal: services.journal,
        pacing: services.pacing,
        queue,
        enqueueConcurrency: 4,
        firstPollDelayMs: 0,
        log: silentLogger,
      },
      services.fanOutProgress,
    ),
    { partnerId: caller.partnerId, tenantId: "contoso.onmicrosoft.com", devices: makeDevices(4, `RT${Date.now()}`) },
    "json",
  );
  const at = new Date().toISOString();
  const outcomes = ["RetriesExhausted", "ProcessingFailed", "806", undefined];
  for (const [i, code] of outcomes.entries()) {
    const device = (await services.store.readDevice(batchId, `device-00000${i}`))!;
    const claimed = await services.store.transitionDevice(device, { state: "submitting", attempts: 1, claimedBy: "m", updatedAt: at });
    await services.store.transitionDevice(
      claimed,
      code ? { state: "failed", errorCode: code, updatedAt: at } : { state: "imported", updatedAt: at },
    );
  }
  return batchId;
}

const deps = (queue: DeviceMessageSender) => ({
  store: services.store,
  journal: services.journal,
  queue,
  pacing: services.pacing,
  enqueueConcurrency: 4,
  firstPollDelayMs: 0,
  retryAfterSeconds: 1,
  log: silentLogger,
});

describe("retryBatch", () => {
  it("under concurrent requests, moves and sends each retryable device once, with exact counts", async () => {
    const batchId = await finishedBatch();
    const queues = [recordingQueue(), recordingQueue(), recordingQueue()];
    const answers = await Promise.all(queues.map((q) => retryBatch(deps(q), batchId, caller)));
    const submits = queues.flatMap((q) => q.sent).filter((m) => m.kind === "submit");
    expect(submits.map((m) => m.rowKey).sort()).toEqual(["device-000000", "device-000001"]);
    expect(submits.every((m) => m.attempt === 2)).toBe(true);
    const retried = answers.filter((a) => a.status === 202).map((a) => JSON.parse(a.body!).retriedDevices as number);
    expect(retried.reduce((a, b) => a + b, 0)).toBe(2);
    for (const a of answers.filter((a) => a.status !== 202)) expect(a.status).toBe(409);
    const summary = await services.store.readSummary(batchId);
    expect(summary?.counts).toEqual({ queued: 0, retrying: 2, submitted: 0, imported: 1, failed: 1, canceled: 0 });
    expect(summary?.batch.intakeState).toBe("accepted");
    const device = await services.store.readDevice(batchId, "device-000000");
    expect(device).toMatchObject({ state: "retrying", failures: 0, inDoubt: true, attempts: 1 });
    expect(device?.errorCode).toBeUndefined();
  });

  it("is finished by the sweeper if the process dies before its messages are out", async () => {
    const batchId = await finishedBatch();
    await expect(retryBatch(deps(recordingQueue(0)), batchId, caller)).rejects.toThrow(/queue unreachable/);
    expect((await services.store.readSummary(batchId))?.counts).toMatchObject({ retrying: 2, failed: 1, imported: 1 });
    expect((await services.store.readBatch(batchId))?.intakeState).toBe("enqueueing");

    const swept = recordingQueue();
    const report = await sweepIntake({
      ...services,
      queue: swept,
      enqueueConcurrency: 4,
      firstPollDelayMs: 0,
      graceMs: 60_000,
      now: () => new Date(Date.now() + 10 * 60_000),
    });
    expect(report.reenqueued).toBe(2);
    const mine = swept.sent.filter((m) => m.batchId === batchId);
    expect(mine.filter((m) => m.kind === "submit").map((m) => [m.rowKey, m.attempt])).toEqual([
      ["device-000000", 2],
      ["device-000001", 2],
    ]);
    expect(mine.filter((m) => m.kind === "pollBatch")).toHaveLength(1);
    expect((await services.store.readBatch(batchId))?.intakeState).toBe("accepted");
  });

  it("answers 404 for another partner's batch and touches nothing", async () => {
    const batchId = await finishedBatch();
    const queue = recordingQueue();
    const answer = await retryBatch(deps(queue), batchId, { ...caller, partnerId: "someone-else" });
    expect(answer.status).toBe(404);
    expect(queue.sent).toEqual([]);
    expect((await services.store.readSummary(batchId))?.counts).toMatchObject({ failed: 3, retrying: 0 });
  });
});
