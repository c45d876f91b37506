import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createServices, type Services } from "../../src/app/services.js";
import { loadConfig } from "../../src/config/config.js";
import { startGraphSimulator, type GraphSimulator } from "../../src/dev/simulator/index.js";
import { startAzurite, type RunningAzurite } from "../../src/dev/host/azurite.js";
import { FANOUT_LEAD_MS, submitBatch } from "../../src/intake/submitBatch.js";
import { silentLogger } from "../../src/telemetry/logging.js";
import type { DeviceMessage } from "../../src/storage/deviceMessage.js";
import type { DeviceMessageSender } from "../../src/storage/deviceQueue.js";
import { processDeviceMessage } from "../../src/worker/processDeviceMessage.js";
import type { StepOutcome, WorkerDeps } from "../../src/worker/createAttempt.js";
import { processPoisonMessage } from "../../src/worker/processPoisonMessage.js";
import { pollBatch } from "../../src/worker/pollBatch.js";
import { pollStallMs, restartStalledPolls } from "../../src/worker/restartStalledPolls.js";
import { restartPollsDeps } from "../../src/app/serviceDeps.js";
import { MAX_RESCHEDULES, MAX_WAIT_IN_FUNCTION_MS, pacingBudget } from "../../src/model/pacing.js";
import { TenantPacing } from "../../src/storage/tenantPacing.js";
import { StorageReachability } from "../../src/storage/storageReachability.js";
import { hashFor } from "../support/devices.js";
import { withInlineFanOut } from "../support/inlineFanOut.js";

/**
 * The worker against real Azurite and the simulator, driven one message at a time so each
 * delivery pattern (redelivery, duplicate copies, crash mid-step) is exact, not left to timing.
 */
const TENANT = "aaaaaaaa-0000-4000-8000-00000000000a";
let azurite: RunningAzurite;
let simulator: GraphSimulator;
let services: Services;
let deps: WorkerDeps;

beforeAll(async () => {
  azurite = await startAzurite();
  // Intune as observed (importId and productKey answered as the record's own id, lists that lag
  // creates), except that imports settle at once, so a round's outcome is known without waiting.
  // On the worker's clock, which runs ahead by every delay a test lets pass.
  simulator = await startGraphSimulator({ settleDelayMs: 0, now: () => Date.now() + clockOffsetMs });
  services = await createServices(
    loadConfig({
      AzureWebJobsStorage: azurite.connectionString,
      GRAPH_BASE_URL: simulator.url,
      GRAPH_CREDENTIAL: "simulator",
      RETRY_MAX_ATTEMPTS: "3",
      // Slots so close together that no message here is ever deferred for pacing.
      PACING_WRITES_PER_WINDOW: "10000000",
    }),
    silentLogger,
  );
  deps = {
    ...services,
    queue: recorder,
    retry: services.config.retry,
    listGraceMs: services.config.graph.listGraceMs,
    random: () => 0,
    now: () => new Date(Date.now() + clockOffsetMs),
  };
});

afterAll(async () => {
  await simulator?.stop();
  await azurite?.stop();
});

beforeEach(() => {
  simulator.clearFaults();
  sent.length = 0;
});

let serial = 0;
/** One device in a tenant of its own, so one test's throttling does not pace the next. */
async function acceptOne(): Promise<{ batchId: string; serialNumber: string }> {
  const serialNumber = `SN-${++serial}-${Date.now()}`;
  const accepted = await submitBatch(
    // Intake on the worker's clock, so slots are where the worker expects them.
    withInlineFanOut(
      { ...services, queue: recorder, enqueueConcurrency: 4, firstPollDelayMs: 1_000, now: () => new Date(Date.now() + clockOffsetMs) },
      services.fanOutProgress,
    ),
    {
      partnerId: "worker-test",
      tenantId: `${TENANT.slice(0, -2)}${String(serial).padStart(2, "0")}`,
      devices: [{ serialNumber, hardwareIdentifier: hashFor(serialNumber, serial + 1000) }],
    },
    "json",
  );
  return { batchId: accepted.batchId, serialNumber };
}

/** The worker's clock runs ahead by every delay a test lets pass, as the queue would have. */
let clockOffsetMs = 0;

/** The messages the worker and intake sent, with their delays, in order: the queue's view without its timing. */
const sent: { message: DeviceMessage; delayMs: number; sentAt: number }[] = [];
const recorder: DeviceMessageSender = {
  async send(message, delayMs = 0) {
    sent.push({ message, delayMs, sentAt: Date.now() + clockOffsetMs });
  },
};
let messageIds = 0;

/** Takes the oldest sent message of a kind, as a host would once it falls due; its delay is returned for the test to check. */
function nextMessage(kind: DeviceMessage["kind"] = "submit"): { message: DeviceMessage; id: string; delayMs: number; sentAt: number } {
  const at = sent.findIndex((s) => s.message.kind === kind);
  const next = at < 0 ? undefined : sent.splice(at, 1)[0];
  if (!next) throw new Error("no message was sent");
  clockOffsetMs += next.delayMs;
  return { ...next, id: `message-${++messageIds}` };
}

function pollDeps() {
  return {
    ...services,
    queue: recorder,
    followUp: services.config.followUp,
    listGraceMs: services.config.graph.listGraceMs,
    now: () => new Date(Date.now() + clockOffsetMs),
  };
}

const POLL_RESTART_DELAY_MS = 60_000;
function poisonDeps() {
  return { ...services, queue: recorder, pollRestartDelayMs: POLL_RESTART_DELAY_MS };
}

const createsOf = (serialNumber: string) => simulator.creates.filter((c) => c.serialNumber === serialNumber).length;

async function run(message: DeviceMessage, id: string): Promise<StepOutcome> {
  return processDeviceMessage(deps, message, { id, dequeueCount: 1 });
}

describe("worker", () => {
  it("creates the device, then the batch's poll round finds the import complete", async () => {
    const { batchId, serialNumber } = await acceptOne();
    const first = nextMessage();
    expect(await run(first.message, first.id)).toBe("submitted");
    const poll = nextMessage("pollBatch");
    expect(poll.message).toMatchObject({ kind: "pollBatch", batchId, attempt: 1 });
    // A follow-up delay (1 s) after the batch's first slot (FANOUT_LEAD_MS ahead of intake),
    // made visible up to a second early as every slot's message is (pacing.ts, queueDelayForSlot).
    expect(poll.delayMs).toBeGreaterThan(FANOUT_LEAD_MS + 1_000 - MAX_WAIT_IN_FUNCTION_MS - 100);
    expect(poll.delayMs).toBeLessThanOrEqual(FANOUT_LEAD_MS + 1_000 - MAX_WAIT_IN_FUNCTION_MS + 1);
    expect(await pollBatch(pollDeps(), poll.message, poll.id)).toBe("finished");

    const device = await services.store.readDevice(batchId, first.message.rowKey);
    expect(device).toMatchObject({ state: "imported", attempts: 1, importStatus: "complete" });
    expect(device?.deviceRegistrationId).toBeTruthy();
    const summary = await services.store.readSummary(batchId);
    expect(summary?.counts).toMatchObject({ queued: 0, submitted: 0, imported: 1, failed: 0 });
    expect(createsOf(serialNumber)).toBe(1);
  });

  it("does nothing for a redelivered message whose device is already decided", async () => {
    const { serialNumber } = await acceptOne();
    const first = nextMessage();
    await run(first.message, first.id);
    // Resumes: the device holds the id of its create's answer, so Graph is not asked again; the poll round follows it.
    expect(await run(first.message, first.id)).toBe("submitted");
    expect(await run(first.message, "another-copy")).toBe("stale");
    expect(createsOf(serialNumber)).toBe(1);
  });

  it("lets only one of two concurrent copies of a message create the device", async () => {
    const { serialNumber } = await acceptOne();
    const first = nextMessage();
    const outcomes = await Promise.all([run(first.message, "copy-1"), run(first.message, "copy-2")]);
    expect(outcomes.sort()).toEqual(["stale", "submitted"]);
    expect(createsOf(serialNumber)).toBe(1);
  });

  it("retries a throttled create after Retry-After, then succeeds", async () => {
    const { batchId, serialNumber } = await acceptOne();
    simulator.injectFaults({ kind: "status", status: 429, retryAfterSeconds: 3, times: 1, match: { serialNumber } });
    const first = nextMessage();
    expect(await run(first.message, first.id)).toBe("retry-scheduled");
    const waiting = await services.store.readDevice(batchId, first.message.rowKey);
    expect(waiting).toMatchObject({ state: "retrying", attempts: 1, errorCode: "TooManyRequests" });
    expect(Date.parse(waiting!.nextAttemptAt!) - Date.parse(waiting!.updatedAt)).toBeGreaterThanOrEqual(3_000);

    const second = nextMessage();
    expect(second.message).toMatchObject({ kind: "submit", attempt: 2 });
    // Not before Retry-After: its slot is at least 3 s on, and the queue shows it no more than 1 s early.
    expect(second.message.slotAt! - Date.parse(waiting!.updatedAt)).toBeGreaterThanOrEqual(3_000);
    const visibleAt = second.sentAt + 1000 * Math.ceil(second.delayMs / 1000);
    expect(visibleAt).toBeGreaterThanOrEqual(second.message.slotAt! - 1_000);
    expect(await run(second.message, second.id)).toBe("submitted");
    // Graph took it: the attempt wrote nothing more, and the claim cleared the throttling error.
    const device = await services.store.readDevice(batchId, first.message.rowKey);
    expect(device).toMatchObject({ state: "submitting", attempts: 2, failures: 0 });
    expect(device?.errorCode).toBeUndefined();
    const poll = nextMessage("pollBatch");
    expect(await pollBatch(pollDeps(), poll.message, poll.id)).toBe("finished");
    expect(await services.store.readDevice(batchId, first.message.rowKey)).toMatchObject({ state: "imported", attempts: 2 });
  });

  it("fails a device Graph rejects, with Graph's code and message, without retrying", async () => {
    const { batchId, serialNumber } = await acceptOne();
    simulator.injectFaults({ kind: "status", status: 400, errorCode: "BadRequest", match: { serialNumber } });
    const first = nextMessage();
    expect(await run(first.message, first.id)).toBe("failed");
    const device = await services.store.readDevice(batchId, first.message.rowKey);
    expect(device).toMatchObject({ state: "failed", attempts: 1, errorCode: "BadRequest" });
    expect(device?.errorMessage).toBeTruthy();
  });

  it("fails a device with 'retries exhausted' after the configured number of attempts", async () => {
    const { batchId, serialNumber } = await acceptOne();
    simulator.injectFaults({ kind: "status", status: 503, match: { serialNumber } });
    const outcomes: StepOutcome[] = [];
    for (let i = 0; i < services.config.retry.maxAttempts; i++) {
      const next = nextMessage();
      outcomes.push(await run(next.message, next.id));
    }
    expect(outcomes).toEqual(["retry-scheduled", "retry-scheduled", "failed"]);
    const device = await services.store.readDevice(batchId, "device-000000");
    expect(device).toMatchObject({ state: "failed", attempts: 3, failures: 3, errorCode: "RetriesExhausted" });
    expect(device?.errorMessage).toMatch(/retries exhausted after 3 transient failures/);
    const summary = await services.store.readSummary(batchId);
    expect(summary?.counts).toMatchObject({ failed: 1, retrying: 0, queued: 0 });
  });

  it("treats a dropped connection as transient", async () => {
    const { batchId, serialNumber } = await acceptOne();
    simulator.injectFaults({ kind: "drop", times: 1, match: { serialNumber } });
    const first = nextMessage();
    expect(await run(first.message, first.id)).toBe("retry-scheduled");
    expect(await services.store.readDevice(batchId, first.message.rowKey)).toMatchObject({ state: "retrying", errorCode: "NetworkError" });
  });

  it("records the import's own error code when Intune rejects the device after the create", async () => {
    const { batchId, serialNumber } = await acceptOne();
    simulator.registerDevice("another-tenant-0000", { serialNumber });
    const first = nextMessage();
    expect(await run(first.message, first.id)).toBe("submitted");
    const poll = nextMessage("pollBatch");
    expect(await pollBatch(pollDeps(), poll.message, poll.id)).toBe("finished");
    const device = await services.store.readDevice(batchId, first.message.rowKey);
    expect(device).toMatchObject({ state: "failed", errorCode: "808", errorName: "ZtdDeviceAssignedToOtherTenant", importStatus: "error" });
    expect(device?.errorMessage).toMatch(/another tenant/);
  });

  it("records the id of the create's answer, not the echoed importId, and follows the import by it", async () => {
    const { batchId, serialNumber } = await acceptOne();
    const first = nextMessage();
    expect(await run(first.message, first.id)).toBe("submitted");
    const created = simulator.creates.find((c) => c.serialNumber === serialNumber)!;
    const device = await services.store.readDevice(batchId, first.message.rowKey);
    expect(device).toMatchObject({
      state: "submitting",
      graphId: created.id,
      graphClientRequestId: expect.any(String),
      graphRequestId: expect.any(String),
    });
    // What this Graph answers for the record: its own id where our importId was sent.
    const answered = await services.graph.getImportedDevice(device!.tenantId, created.id);
    expect(answered.kind === "ok" && answered.body.importId).toBe(created.id);
    expect(created.importId).toBe(`${batchId}/${first.message.rowKey}`);
    const poll = nextMessage("pollBatch");
    expect(await pollBatch(pollDeps(), poll.message, poll.id)).toBe("finished");
    expect(await services.store.readDevice(batchId, first.message.rowKey)).toMatchObject({ state: "imported", graphId: created.id });
  });

  it("fails a device whose imported record disappears from Graph before it settles, once the list grace has passed", async () => {
    const { batchId, serialNumber } = await acceptOne();
    const first = nextMessage();
    expect(await run(first.message, first.id)).toBe("submitted");
    // An earlier round saw the record running (this simulator settles at once, so that round is written here).
    const graphId = simulator.creates.find((c) => c.serialNumber === serialNumber)!.id;
    const claimed = (await services.store.readDevice(batchId, first.message.rowKey))!;
    const seen = await services.store.transitionDevice(claimed, {
      state: "submitted",
      graphId,
      submittedAt: claimed.updatedAt,
      updatedAt: new Date().toISOString(),
    });
    expect((await services.graph.deleteImportedDevice(seen.tenantId, graphId)).kind).toBe("ok");
    const poll = nextMessage("pollBatch");
    // Within the grace a missing record may be one the lists do not show yet.
    expect(await pollBatch(pollDeps(), poll.message, poll.id)).toBe("polled");
    expect(await services.store.readDevice(batchId, first.message.rowKey)).toMatchObject({ state: "submitted" });
    const next = nextMessage("pollBatch");
    const later = () => new Date(Date.now() + clockOffsetMs + services.config.graph.listGraceMs);
    expect(await pollBatch({ ...pollDeps(), now: later }, next.message, next.id)).toBe("finished");
    expect(await services.store.readDevice(batchId, first.message.rowKey)).toMatchObject({
      state: "failed",
      errorCode: "ImportRecordMissing",
    });
  });

  it("records a device whose create answered 201 as submitted once a round finds its record still importing", async () => {
    const { batchId, serialNumber } = await acceptOne();
    const first = nextMessage();
    expect(await run(first.message, first.id)).toBe("submitted");
    // This simulator settles at once; the round is shown the record as Intune shows it mid-import.
    const importing = Object.create(services.graph) as typeof services.graph;
    importing.getImportedDevice = async (tenantId, id) => {
      const found = await services.graph.getImportedDevice(tenantId, id);
      return found.kind === "ok"
        ? { ...found, body: { ...found.body, state: { ...found.body.state, deviceImportStatus: "pending" as const } } }
        : found;
    };
    const poll = nextMessage("pollBatch");
    expect(await pollBatch({ ...pollDeps(), graph: importing }, poll.message, poll.id)).toBe("polled");
    const device = await services.store.readDevice(batchId, first.message.rowKey);
    expect(device).toMatchObject({
      state: "submitted",
      graphId: simulator.creates.find((c) => c.serialNumber === serialNumber)!.id,
      importStatus: "pending",
    });
    expect(device?.submittedAt).toBeTruthy();
    expect((await services.store.readSummary(batchId))?.counts).toMatchObject({ queued: 0, submitted: 1 });
    const next = nextMessage("pollBatch");
    expect(await pollBatch(pollDeps(), next.message, next.id)).toBe("finished");
    expect(await services.store.readDevice(batchId, first.message.rowKey)).toMatchObject({ state: "imported" });
  });

  it("does not take a record missing right after its create for deleted: lists lag creates", async () => {
    const { batchId, serialNumber } = await acceptOne();
    const first = nextMessage();
    expect(await run(first.message, first.id)).toBe("submitted");
    const graphId = simulator.creates.find((c) => c.serialNumber === serialNumber)!.id;
    expect(
      (await services.graph.deleteImportedDevice((await services.store.readDevice(batchId, first.message.rowKey))!.tenantId, graphId)).kind,
    ).toBe("ok");
    const poll = nextMessage("pollBatch");
    expect(await pollBatch(pollDeps(), poll.message, poll.id)).toBe("polled");
    expect(await services.store.readDevice(batchId, first.message.rowKey)).toMatchObject({ state: "submitting", graphId });
    const next = nextMessage("pollBatch");
    const later = () => new Date(Date.now() + clockOffsetMs + services.config.graph.listGraceMs);
    expect(await pollBatch({ ...pollDeps(), now: later }, next.message, next.id)).toBe("finished");
    expect(await services.store.readDevice(batchId, first.message.rowKey)).toMatchObject({
      state: "failed",
      errorCode: "ImportRecordMissing",
    });
  });

  /**
   * One accepted device whose message comes back 5 s after its slot, and what this instance saw of
   * storage: its requests failing from `failedAgoMs` ago until 100 ms ago.
   */
  async function lateAfterOutage(failedAgoMs: number) {
    const { batchId, serialNumber } = await acceptOne();
    const first = nextMessage();
    const { tenantId } = (await services.store.readDevice(batchId, first.message.rowKey))!;
    const back = Date.now() + clockOffsetMs;
    const late = { ...first.message, slotAt: back - 5_000, shiftAt: 0 };
    const seen = new StorageReachability(() => Date.now() + clockOffsetMs);
    seen.failed(back - failedAgoMs);
    seen.answered(back - 100);
    return { serialNumber, first, tenantId, late, seen, back };
  }

  it("pauses the tenant's schedule for a message that comes too late for its slot (an outage), and then writes it, once", async () => {
    // Storage was away: the message comes back 5 s after its slot, and this instance saw its requests fail meanwhile.
    const { serialNumber, first, tenantId, late, seen } = await lateAfterOutage(4_900);
    expect(await processDeviceMessage({ ...deps, reachability: seen }, late, { id: first.id, dequeueCount: 1 })).toBe("submitted");
    expect(createsOf(serialNumber)).toBe(1);
    const row = await services.storage.pacing.getEntity<{ shiftMs: number; pausedUntil: number }>(tenantId, "writes");
    // The schedule moved back by the outage, from its first failed request to its first answer, once: the moments
    // since (the test's, a storage client's retry delay in life) are caught up, not added to every slot.
    expect(row.shiftMs).toBe(4_800);
    // The pause ended when this message went: another message of the same outage, its slot 10 ms later, is on time at that moment.
    expect(row.pausedUntil - (late.slotAt + row.shiftMs)).toBeLessThanOrEqual(services.pacing.lateToleranceMs);
    const after = await services.pacing.stall(tenantId, { slotAt: late.slotAt + 10, shiftAt: 0 }, row.pausedUntil + 5);
    expect(after).toBe(row.shiftMs);
  });

  it("pauses the tenant's schedule from the outage's start, not from the slot of a message already late when storage went away", async () => {
    // The message was already 2 s late (a busy instance) when this instance's requests began to fail, 3 s ago.
    const { serialNumber, first, tenantId, late, seen, back } = await lateAfterOutage(3_000);
    // The outage moves everybody by the 2.9 s storage was away; this message is still 2 s late after it, so it takes a new slot.
    expect(await processDeviceMessage({ ...deps, reachability: seen }, late, { id: first.id, dequeueCount: 1 })).toBe("rescheduled");
    expect(createsOf(serialNumber)).toBe(0);
    expect(nextMessage().message).toMatchObject({ attempt: 1, rescheduled: 1 });
    const row = await services.storage.pacing.getEntity<{ shiftMs: number; pausedUntil: number }>(tenantId, "writes");
    expect(row.shiftMs).toBe(2_900);
    // A message whose slot fell inside the outage is on time after the pause, and moves nothing more.
    const after = await services.pacing.stall(tenantId, { slotAt: back - 2_500, shiftAt: 0 }, row.pausedUntil + 5);
    expect(after).toBe(row.shiftMs);
  });

  it("gives a message late without an outage (a busy instance) a new slot, and leaves the tenant's schedule alone", async () => {
    const { batchId, serialNumber } = await acceptOne();
    const first = nextMessage();
    const { tenantId } = (await services.store.readDevice(batchId, first.message.rowKey))!;
    const late = { ...first.message, slotAt: Date.now() + clockOffsetMs - 5_000, shiftAt: 0 };
    // This instance's storage requests were all answered since the slot was due.
    const seen = new StorageReachability(() => Date.now() + clockOffsetMs);
    expect(await processDeviceMessage({ ...deps, reachability: seen }, late, { id: first.id, dequeueCount: 1 })).toBe("rescheduled");
    expect(createsOf(serialNumber)).toBe(0);
    expect(nextMessage().message).toMatchObject({ attempt: 1, rescheduled: 1 });
    const row = await services.storage.pacing.getEntity<{ shiftMs: number }>(tenantId, "writes");
    expect(row.shiftMs).toBe(0);
  });

  it("gives a message still late inside a recorded pause (back out of order) a new slot instead of writing late, up to MAX_RESCHEDULES times", async () => {
    const { batchId, serialNumber } = await acceptOne();
    const first = nextMessage();
    const { tenantId } = (await services.store.readDevice(batchId, first.message.rowKey))!;
    // A wide late tolerance (a 200 s window: 3 s), so the moments the test takes never count as a new outage.
    const wide = new TenantPacing(services.storage.pacing, pacingBudget(200_000, 10_000_000, services.config.pacing.headroom));
    const wideDeps = {
      ...deps,
      pacing: wide,
      reachability: {
        backAfterAwayDuring: (_from: number, to: number) => to,
        awaySinceDuring: (from: number) => from,
        lastEndedSince: () => undefined,
      },
    };
    const at = () => Date.now() + clockOffsetMs;
    // An outage of 10 s, recorded by another message, ended now.
    await wide.stall(tenantId, { slotAt: at() - 10_000, shiftAt: 0 }, at());
    // This message's slot came 6 s before that one's: even after the pause it is 6 s late.
    const late = { ...first.message, slotAt: at() - 16_000, shiftAt: 0 };
    const runWide = (message: DeviceMessage, id: string) => processDeviceMessage(wideDeps, message, { id, dequeueCount: 1 });
    expect(await runWide(late, first.id)).toBe("rescheduled");
    expect(createsOf(serialNumber)).toBe(0);
    expect(await services.store.readDevice(batchId, first.message.rowKey)).toMatchObject({ state: "queued", attempts: 0 });
    let again = nextMessage();
    expect(again.message).toMatchObject({ attempt: 1, rescheduled: 1 });
    expect(again.message.slotAt).toBeGreaterThan(late.slotAt);
    // A host that is always late still imports: after MAX_RESCHEDULES new slots the device goes.
    for (let n = 2; n <= MAX_RESCHEDULES; n++) {
      expect(await runWide({ ...again.message, slotAt: late.slotAt, shiftAt: 0 }, again.id)).toBe("rescheduled");
      again = nextMessage();
      expect(again.message.rescheduled).toBe(n);
    }
    expect(await runWide({ ...again.message, slotAt: late.slotAt, shiftAt: 0 }, again.id)).toBe("submitted");
    expect(createsOf(serialNumber)).toBe(1);
  });

  it("keeps polling a batch while its import runs, in one chain whatever the copies", async () => {
    const { batchId } = await acceptOne();
    const first = nextMessage();
    const poll = nextMessage("pollBatch");
    // The device is not submitted yet: the round finds nothing, and schedules the next.
    expect(await pollBatch(pollDeps(), poll.message, poll.id)).toBe("polled");
    expect(await pollBatch(pollDeps(), poll.message, "a-copy")).toBe("stale");
    const second = nextMessage("pollBatch");
    expect(second.message).toMatchObject({ kind: "pollBatch", attempt: 2 });
    expect(sent.filter((s) => s.message.kind === "pollBatch")).toHaveLength(0);
    // Two poll rounds' delays have passed on the test's clock; the device's slot is taken as now, not as missed.
    expect(await run({ ...first.message, slotAt: Date.now() + clockOffsetMs }, first.id)).toBe("submitted");
    expect(await pollBatch(pollDeps(), second.message, second.id)).toBe("finished");
    expect((await services.store.readSummary(batchId))?.counts).toMatchObject({ imported: 1 });
  });

  it("keeps the batch's one poll chain when the header changes between a round's read and its claim", async () => {
    const { batchId } = await acceptOne();
    const poll = nextMessage("pollBatch");
    // The fan-out (or the sweeper) marks the batch accepted just after the round read the header.
    let marked = false;
    const store = Object.create(services.store) as typeof services.store;
    store.readBatch = async (id) => {
      const read = await services.store.readBatch(id);
      if (!marked) {
        marked = true;
        await services.store.markAccepted(id, new Date().toISOString());
      }
      return read;
    };
    expect(await pollBatch({ ...pollDeps(), store }, poll.message, poll.id)).toBe("polled");
    expect(marked).toBe(true);
    expect(await services.store.readBatch(batchId)).toMatchObject({ pollAttempt: 1, pollClaimedBy: poll.id, intakeState: "accepted" });
    expect(nextMessage("pollBatch").message).toMatchObject({ kind: "pollBatch", batchId, attempt: 2 });
  });

  it("restarts a batch's poll chain whose message vanished, and only then; the vanished round, if it comes after all, is dropped", async () => {
    const { batchId } = await acceptOne();
    const poll = nextMessage("pollBatch");
    expect(await pollBatch(pollDeps(), poll.message, poll.id)).toBe("polled");
    expect(await services.store.readBatch(batchId)).toMatchObject({ pollAttempt: 1, polledAt: expect.any(String) });
    // Round 2's message is sent, and then lost (here: never delivered).
    const vanished = sent.splice(
      sent.findIndex((s) => s.message.kind === "pollBatch" && s.message.batchId === batchId),
      1,
    )[0]!;
    expect(vanished.message).toMatchObject({ attempt: 2 });
    const stallMs = pollStallMs(services.config.followUp.maxDelayMs);
    const watchdog = (laterMs: number) =>
      restartStalledPolls({ ...restartPollsDeps(services), queue: recorder, now: () => Date.now() + clockOffsetMs + laterMs });
    const restartsOf = () => sent.filter((s) => s.message.kind === "pollBatch" && s.message.batchId === batchId);
    // A chain silent for less than its stall time may only be slow: left alone.
    await watchdog(stallMs - 60_000);
    expect(restartsOf()).toHaveLength(0);
    await watchdog(stallMs + 60_000);
    expect(restartsOf().map((s) => [s.message.attempt, s.delayMs])).toEqual([[2, 0]]);
    const restarted = sent.splice(sent.indexOf(restartsOf()[0]!), 1)[0]!;
    // The device was never sent: the restarted round finds it waiting and goes on with the chain.
    expect(await pollBatch(pollDeps(), restarted.message as typeof poll.message, "restarted")).toBe("polled");
    expect(await services.store.readBatch(batchId)).toMatchObject({ pollAttempt: 2, pollClaimedBy: "restarted" });
    // The lost message turning up late finds its round taken.
    expect(await pollBatch(pollDeps(), vanished.message as typeof poll.message, "late-copy")).toBe("stale");
  });

  it.each([
    ["a 504 after Graph created it", 504],
    ["a dropped connection after Graph created it", 0],
  ])("never creates a device twice when %s: the next attempts look for the first record by serial number", async (_, status) => {
    const { batchId, serialNumber } = await acceptOne();
    simulator.injectFaults({ kind: "succeedThenFail", status, times: 1, match: { serialNumber } });
    const first = nextMessage();
    expect(await run(first.message, first.id)).toBe("retry-scheduled");
    expect(await services.store.readDevice(batchId, first.message.rowKey)).toMatchObject({ state: "retrying", inDoubt: true });
    // The record is not in the tenant's list yet (lists lag creates): no conclusion, look again after the grace.
    const second = nextMessage();
    expect(await run(second.message, second.id)).toBe("retry-scheduled");
    expect(await services.store.readDevice(batchId, first.message.rowKey)).toMatchObject({
      state: "retrying",
      inDoubt: true,
      errorCode: "ImportLookupPending",
    });
    const third = nextMessage();
    // By then the first record has settled (this simulator settles at once): it tells the device's
    // outcome, but a finished record could be another tool's, so it is marked as matched by serial number.
    expect(await run(third.message, third.id)).toBe("imported");
    expect(createsOf(serialNumber)).toBe(1);
    const device = await services.store.readDevice(batchId, first.message.rowKey);
    expect(device).toMatchObject({
      graphId: simulator.creates.find((c) => c.serialNumber === serialNumber)?.id,
      recordMatch: "serialNumber",
    });
    expect(device?.inDoubt).toBeUndefined();
  });

  it("creates again once the list grace after a lost create has passed with no record found, counted from that create", async () => {
    const { batchId, serialNumber } = await acceptOne();
    // A 500 in front of Graph: nothing was created, but the worker cannot know that.
    simulator.injectFaults({ kind: "status", status: 500, times: 1, match: { method: "POST", serialNumber } });
    const first = nextMessage();
    expect(await run(first.message, first.id)).toBe("retry-scheduled");
    const doubtful = await services.store.readDevice(batchId, first.message.rowKey);
    expect(doubtful).toMatchObject({ inDoubt: true, inDoubtSince: expect.any(String) });
    const second = nextMessage();
    expect(await run(second.message, second.id)).toBe("retry-scheduled");
    const waiting = await services.store.readDevice(batchId, first.message.rowKey);
    expect(waiting).toMatchObject({ errorCode: "ImportLookupPending", inDoubtSince: doubtful!.inDoubtSince });
    expect(Date.parse(waiting!.nextAttemptAt!)).toBeGreaterThanOrEqual(
      Date.parse(doubtful!.inDoubtSince!) + services.config.graph.listGraceMs,
    );
    const third = nextMessage();
    expect(await run(third.message, third.id)).toBe("submitted");
    expect(createsOf(serialNumber)).toBe(1);
  });

  it("never creates a device twice when its host dies between Graph's 201 and recording it", async () => {
    const { batchId, serialNumber } = await acceptOne();
    const first = nextMessage();
    const dying = Object.create(services.graph) as typeof services.graph;
    dying.createImportedDevice = async (tenantId, body) => {
      await services.graph.createImportedDevice(tenantId, body);
      throw new Error("host died");
    };
    await expect(processDeviceMessage({ ...deps, graph: dying }, first.message, { id: first.id, dequeueCount: 1 })).rejects.toThrow(
      "host died",
    );
    expect(await services.store.readDevice(batchId, first.message.rowKey)).toMatchObject({ state: "submitting", claimedBy: first.id });
    // The host redelivers the same message: it looks for the record instead of creating, and once
    // the list can show it, takes it.
    expect(await processDeviceMessage(deps, first.message, { id: first.id, dequeueCount: 2 })).toBe("retry-scheduled");
    const next = nextMessage();
    expect(await run(next.message, next.id)).toBe("imported");
    expect(createsOf(serialNumber)).toBe(1);
  });

  it("does not look up a device whose last failure said nothing was created", async () => {
    const { serialNumber } = await acceptOne();
    simulator.injectFaults({ kind: "status", status: 429, retryAfterSeconds: 1, times: 1, match: { serialNumber } });
    const first = nextMessage();
    expect(await run(first.message, first.id)).toBe("retry-scheduled");
    const listsBefore = simulator.requestLog.filter((r) => r.method === "GET").length;
    const second = nextMessage();
    expect(await run(second.message, second.id)).toBe("submitted");
    expect(simulator.requestLog.filter((r) => r.method === "GET").length).toBe(listsBefore);
  });

  it("fails a device whose message was poisoned, and leaves a decided device alone", async () => {
    const { batchId } = await acceptOne();
    const first = nextMessage();
    expect(await processPoisonMessage(poisonDeps(), first.message, 5)).toBe("failed");
    const device = await services.store.readDevice(batchId, first.message.rowKey);
    expect(device).toMatchObject({ state: "failed", errorCode: "ProcessingFailed" });
    expect(await processPoisonMessage(poisonDeps(), first.message, 5)).toBe("already-final");
    expect((await services.store.readSummary(batchId))?.counts).toMatchObject({ queued: 0, failed: 1 });
  });

  it("restarts a batch's poll chain when a poll round is poisoned, so the batch still finishes", async () => {
    const { batchId, serialNumber } = await acceptOne();
    const first = nextMessage();
    expect(await run(first.message, first.id)).toBe("submitted");
    const poll = nextMessage("pollBatch");
    // The round took the batch, then its host kept failing: the message went to the poison queue.
    const batch = (await services.store.readBatch(batchId))!;
    expect(
      await services.store.claimPollRound(batch, { pollAttempt: poll.message.attempt, pollClaimedBy: poll.id, pollIdleRounds: 0 }),
    ).toBe(true);
    expect(await pollBatch(pollDeps(), poll.message, "another-copy")).toBe("stale");

    expect(await processPoisonMessage(poisonDeps(), poll.message, 5)).toBe("poll-restarted");
    const successor = nextMessage("pollBatch");
    expect(successor.message).toMatchObject({ kind: "pollBatch", batchId, attempt: poll.message.attempt + 1 });
    expect(successor.delayMs).toBe(POLL_RESTART_DELAY_MS);
    expect(await pollBatch(pollDeps(), successor.message, successor.id)).toBe("finished");
    expect((await services.store.readSummary(batchId))?.counts).toMatchObject({ submitted: 0, imported: 1 });
    expect(createsOf(serialNumber)).toBe(1);
  });
});
