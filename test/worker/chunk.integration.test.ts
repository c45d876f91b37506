import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServices, type Services } from "../../src/app/services.js";
import { loadConfig } from "../../src/config/config.js";
import { startGraphSimulator, type GraphSimulator, type SimulatorOptions } from "../../src/dev/simulator/index.js";
import { startAzurite, type RunningAzurite } from "../../src/dev/host/azurite.js";
import { submitBatch } from "../../src/intake/submitBatch.js";
import { silentLogger } from "../../src/telemetry/logging.js";
import type { DeviceMessage } from "../../src/storage/deviceMessage.js";
import type { DeviceMessageSender } from "../../src/storage/deviceQueue.js";
import type { StoredDevice } from "../../src/storage/importEntities.js";
import { pollBatch } from "../../src/worker/pollBatch.js";
import { processDeviceMessage } from "../../src/worker/processDeviceMessage.js";
import { processFollower } from "../../src/worker/processFollower.js";
import type { KeepForLater } from "../../src/storage/drainQueue.js";
import { decodeSubmitMessage, type SubmitMessage } from "../../src/storage/deviceMessage.js";
import type { StepOutcome } from "../../src/worker/createAttempt.js";
import { processPoisonMessage } from "../../src/worker/processPoisonMessage.js";
import { MAX_WAIT_IN_FUNCTION_MS, pacingBudget } from "../../src/model/pacing.js";
import { TenantPacing } from "../../src/storage/tenantPacing.js";
import { hashFor } from "../support/devices.js";
import { startStorageChaos } from "../faults/support/chaosProxy.js";
import { withInlineFanOut } from "../support/inlineFanOut.js";

/**
 * Chunks through the import action, against real Azurite and the simulator (which throttles an
 * action as one write, as Intune counts requests). Messages are driven one at a time in the
 * order they fall due, on a clock that jumps to each, so every delivery pattern is exact.
 */
let azurite: RunningAzurite;
const worlds: World[] = [];
let tenants = 0;

interface World {
  simulator: GraphSimulator;
  services: Services;
  sent: { message: DeviceMessage; visibleAt: number }[];
  /** Every message ever sent, as the queue would hold its text. */
  texts: string[];
  clock: { offsetMs: number };
}

beforeAll(async () => {
  azurite = await startAzurite();
});

afterAll(async () => {
  for (const w of worlds) await w.simulator.stop();
  await azurite?.stop();
});

/** `storage`: another way to the same Azurite (the chaos proxy), for the worker and intake alike. */
async function world(options: SimulatorOptions = {}, storage = azurite.connectionString): Promise<World> {
  const clock = { offsetMs: 0 };
  // Imports settle at once, so a round's outcome is known without waiting; on the worker's clock.
  const simulator = await startGraphSimulator({ settleDelayMs: 0, now: () => Date.now() + clock.offsetMs, ...options });
  const services = await createServices(
    loadConfig({ AzureWebJobsStorage: storage, GRAPH_BASE_URL: simulator.url, GRAPH_CREDENTIAL: "simulator", RETRY_MAX_ATTEMPTS: "4" }),
    silentLogger,
  );
  const w: World = { simulator, services, sent: [], texts: [], clock };
  worlds.push(w);
  return w;
}

const now = (w: World) => new Date(Date.now() + w.clock.offsetMs);
const recorder = (w: World): DeviceMessageSender => ({
  async send(message, delayMs = 0) {
    w.sent.push({ message, visibleAt: now(w).getTime() + delayMs });
    w.texts.push(JSON.stringify(message));
  },
});
const workerDeps = (w: World) => ({
  ...w.services,
  queue: recorder(w),
  retry: w.services.config.retry,
  listGraceMs: w.services.config.graph.listGraceMs,
  followerDelayMs: w.services.config.importAction.followerDelayMs,
  random: () => 0,
  now: () => now(w),
});

async function accept(
  w: World,
  count: number,
  chunkSize: number,
  prefix: string,
): Promise<{ batchId: string; tenantId: string; serials: string[]; secrets: string[] }> {
  const tenantId = `cccccccc-0000-4000-8000-${String(++tenants).padStart(12, "0")}`;
  const serials = Array.from({ length: count }, (_, i) => `${prefix}-${tenants}-${i}`);
  const devices = serials.map((serialNumber, i) => ({
    serialNumber,
    hardwareIdentifier: hashFor(serialNumber, tenants * 1000 + i),
    productKey: `PKEY-${serialNumber}`,
  }));
  const accepted = await submitBatch(
    withInlineFanOut(
      {
        ...w.services,
        queue: recorder(w),
        enqueueConcurrency: 16,
        firstPollDelayMs: 1_000,
        chunking: { size: chunkSize, followerDelayMs: w.services.config.importAction.followerDelayMs },
        now: () => now(w),
      },
      w.services.fanOutProgress,
    ),
    { partnerId: "chunk-test", tenantId, devices },
    "json",
  );
  return { batchId: accepted.batchId, tenantId, serials, secrets: devices.flatMap((d) => [d.hardwareIdentifier, d.productKey]) };
}

let ids = 0;
/** Runs every message as it falls due, until none is left; returns each submit message's outcome by role. */
async function drive(
  w: World,
  options: {
    drop?: (m: DeviceMessage) => boolean;
    pollRoundsAfterSubmits?: number;
    beforeEach?: (m: DeviceMessage) => void;
    /** The worker's deps where they differ from workerDeps(w). */
    deps?: Partial<ReturnType<typeof workerDeps>>;
  } = {},
): Promise<{ leaders: StepOutcome[]; followers: StepOutcome[]; singles: StepOutcome[] }> {
  const outcomes = { leaders: [] as StepOutcome[], followers: [] as StepOutcome[], singles: [] as StepOutcome[] };
  for (let steps = 0; w.sent.length > 0; steps++) {
    if (steps > 5_000) throw new Error("messages kept coming");
    // A batch left unfinished on purpose keeps its poll chain going: stop a few rounds after the last submit.
    if (
      options.pollRoundsAfterSubmits !== undefined &&
      !w.sent.some((s) => s.message.kind === "submit") &&
      options.pollRoundsAfterSubmits-- <= 0
    )
      break;
    w.sent.sort((a, b) => a.visibleAt - b.visibleAt);
    const { message, visibleAt } = w.sent.shift()!;
    w.clock.offsetMs += Math.max(0, visibleAt - now(w).getTime());
    if (options.drop?.(message)) continue;
    options.beforeEach?.(message);
    const id = `m-${++ids}`;
    if (message.kind === "pollBatch") {
      await pollBatch(
        {
          ...w.services,
          queue: recorder(w),
          followUp: w.services.config.followUp,
          listGraceMs: w.services.config.graph.listGraceMs,
          now: () => now(w),
        },
        message,
        id,
      );
      continue;
    }
    const outcome = await processDeviceMessage({ ...workerDeps(w), ...options.deps }, message, { id, dequeueCount: 1 });
    const role = !message.chunk ? "singles" : message.chunk.first === message.rowKey ? "leaders" : "followers";
    outcomes[role].push(outcome);
  }
  return outcomes;
}

/** Takes the batch's (first) chunk leader out of the queue and brings the clock to the moment it is visible. */
function takeLeader(w: World): { message: DeviceMessage; visibleAt: number } {
  const leader = w.sent.find((s) => s.message.chunk?.first === s.message.rowKey)!;
  w.sent.splice(w.sent.indexOf(leader), 1);
  w.clock.offsetMs += Math.max(0, leader.visibleAt - now(w).getTime());
  return leader;
}

/** `target` with one method replaced, everything else its own. */
function withMethod<T extends object>(target: T, name: keyof T, replacement: (...args: never[]) => unknown): T {
  return new Proxy(target, {
    get(t, property) {
      if (property === name) return replacement;
      const value = Reflect.get(t, property);
      return typeof value === "function" ? value.bind(t) : value;
    },
  });
}

const rows = (w: World, batchId: string): Promise<StoredDevice[]> =>
  w.services.store.devicesInState(batchId, "queued", "submitting", "retrying", "submitted", "imported", "failed", "canceled");
const writes = (w: World, tenantId: string) => w.simulator.requestLog.filter((r) => r.tenantId === tenantId && r.method === "POST");
function createdOnce(w: World, serials: string[]): void {
  const bySerial = new Map<string, number>();
  for (const c of w.simulator.creates) bySerial.set(c.serialNumber, (bySerial.get(c.serialNumber) ?? 0) + 1);
  expect(
    serials.filter((s) => bySerial.get(s) !== 1),
    "devices not created exactly once",
  ).toEqual([]);
}

describe("chunks through the import action", () => {
  it("imports a 150-device batch with at most 15 write requests against a Graph that throttles per request; each device names the request that carried it", async () => {
    const w = await world();
    const { batchId, tenantId, serials, secrets } = await accept(w, 150, 100, "CH");
    // One leader and one follower message per device: still one message per device.
    expect(w.sent.filter((s) => s.message.kind === "submit")).toHaveLength(150);
    const outcomes = await drive(w);

    // Two chunks reached Graph; a leader that came late for its slot (a slow machine) took a new one first.
    expect(outcomes.leaders.filter((o) => o === "submitted")).toHaveLength(2);
    expect(outcomes.leaders.every((o) => o === "submitted" || o === "rescheduled" || o === "deferred")).toBe(true);
    expect(outcomes.followers.every((o) => o === "stale")).toBe(true);
    const posts = writes(w, tenantId);
    expect(posts.length).toBeLessThanOrEqual(15);
    expect(posts.every((r) => r.path.endsWith("/import") && r.status === 200)).toBe(true);
    createdOnce(w, serials);
    const devices = await rows(w, batchId);
    expect(devices.every((d) => d.state === "imported")).toBe(true);
    // The import's outcome came from a poll round, but the record's id came from the action's answer.
    const created = new Map(w.simulator.creates.map((c) => [c.serialNumber, c.id]));
    expect(devices.every((d) => d.graphId === created.get(d.serialNumber))).toBe(true);
    // Settled through the action, each row lost its hash and product key in the write that recorded it
    // (issue 21); no message (leader, follower or poll round) ever carried one.
    expect(devices.filter((d) => d.hardwareIdentifier !== undefined || d.productKey !== undefined).map((d) => d.rowKey)).toEqual([]);
    expect(w.texts.filter((text) => secrets.some((secret) => text.includes(secret)))).toEqual([]);
  });

  it("sends the batch's first poll round with its messages, due a follow-up delay after the first slot, ahead of the followers", async () => {
    const w = await world();
    await accept(w, 250, 100, "POLL");
    expect(w.sent.filter((s) => s.message.kind === "pollBatch")).toHaveLength(1);
    const firstSlot = Math.min(...w.sent.flatMap((s) => (s.message.chunk?.first === s.message.rowKey ? [s.message.slotAt!] : [])));
    const poll = w.sent.find((s) => s.message.kind === "pollBatch")!;
    // accept() gives a 1 s follow-up delay; like a slot's message, it may be visible up to a second early.
    expect(poll.visibleAt).toBeGreaterThan(firstSlot + 1_000 - MAX_WAIT_IN_FUNCTION_MS);
    expect(poll.visibleAt).toBeLessThanOrEqual(firstSlot + 1_000);
    // Sent with the devices' messages, it is not queued behind the followers.
    const followers = w.sent.filter((s) => s.message.chunk && s.message.chunk.first !== s.message.rowKey);
    expect(poll.visibleAt).toBeLessThan(Math.min(...followers.map((s) => s.visibleAt)));
  });

  it("stores on each device the client-request-id of the import action that carried it", async () => {
    const w = await world();
    const { batchId, tenantId } = await accept(w, 5, 100, "TR");
    // The leader alone: the chunk's outcome is recorded before any poll round.
    const leader = takeLeader(w);
    expect(await processDeviceMessage(workerDeps(w), leader.message, { id: "leader", dequeueCount: 1 })).toBe("submitted");
    const action = writes(w, tenantId)[0]!;
    const devices = await rows(w, batchId);
    expect(devices.map((d) => [d.state, d.graphClientRequestId])).toEqual(devices.map(() => ["submitting", action.clientRequestId]));
  });

  it("sends a leader that reaches a worker late at the tenant's next free slot there and then, when one is free within a second", async () => {
    const w = await world();
    const { batchId, tenantId, serials } = await accept(w, 5, 100, "LATE");
    const leader = w.sent.find((s) => s.message.chunk?.first === s.message.rowKey)!;
    w.sent.splice(w.sent.indexOf(leader), 1);
    // Delivered well past its slot (a busy host), with the tenant's schedule free.
    w.clock.offsetMs += Math.max(0, leader.message.slotAt! - now(w).getTime()) + 3 * w.services.pacing.lateToleranceMs;
    const before = w.sent.length;
    expect(await processDeviceMessage(workerDeps(w), leader.message, { id: "late-leader", dequeueCount: 1 })).toBe("submitted");
    // No trip through the queue: no message sent, and the chunk went in one action.
    expect(w.sent).toHaveLength(before);
    expect(writes(w, tenantId)).toHaveLength(1);
    await drive(w);
    createdOnce(w, serials);
    expect((await rows(w, batchId)).every((d) => d.state === "imported")).toBe(true);
  });

  it("sends a leader still late after an outage's pause back to the queue when the schedule is busy, and its followers wait for its new slot instead of going alone", async () => {
    const w = await world();
    const { batchId, tenantId, serials } = await accept(w, 4, 100, "BUSY");
    const leader = w.sent.find((s) => s.message.chunk?.first === s.message.rowKey)!;
    w.sent.splice(w.sent.indexOf(leader), 1);
    // A wide late tolerance (a 200 s window: 3 s), so the moments the test takes never count as an outage of their own.
    const wide = new TenantPacing(w.services.storage.pacing, pacingBudget(200_000, 100_000, w.services.config.pacing.headroom));
    const tolerance = wide.lateToleranceMs;
    w.clock.offsetMs += Math.max(0, leader.message.slotAt! - now(w).getTime()) + 3 * tolerance;
    // An outage: a message of a later slot came back first and paused the schedule; the leader is still late after that pause.
    await wide.stall(
      tenantId,
      { slotAt: leader.message.slotAt! + 1.5 * tolerance, shiftAt: leader.message.shiftAt ?? 0 },
      now(w).getTime(),
    );
    // Another batch of the tenant holds its schedule for longer than the followers' delay.
    const followerDelayMs = w.services.config.importAction.followerDelayMs;
    const busyMs = followerDelayMs + 30_000;
    const busy = await w.services.pacing.reserve(
      tenantId,
      Math.ceil((busyMs / w.services.config.pacing.windowMs) * w.services.config.pacing.writesPerWindow),
      now(w).getTime(),
    );
    expect(busy.next.nextSlotAt - now(w).getTime()).toBeGreaterThan(followerDelayMs);
    expect(
      await processDeviceMessage(
        {
          ...workerDeps(w),
          pacing: wide,
          reachability: {
            backAfterAwayDuring: (_from: number, to: number) => to,
            awaySinceDuring: (from: number) => from,
            lastEndedSince: () => undefined,
          },
        },
        leader.message,
        {
          id: "late-leader",
          dequeueCount: 1,
        },
      ),
    ).toBe("rescheduled");
    const leaderRow = (await rows(w, batchId)).find((d) => d.rowKey === leader.message.rowKey)!;
    expect(leaderRow.state).toBe("queued");
    const newSlot = Date.parse(leaderRow.nextAttemptAt!);
    expect(newSlot).toBeGreaterThanOrEqual(busy.next.nextSlotAt);

    const outcomes = await drive(w);
    // Each follower, come at its time, saw the leader's later slot and waited for it once; then it was stale.
    expect(outcomes.followers).toEqual(["deferred", "deferred", "deferred", "stale", "stale", "stale"]);
    expect(outcomes.leaders).toEqual(["submitted"]);
    createdOnce(w, serials);
    expect(writes(w, tenantId).map((r) => r.path.endsWith("/import"))).toEqual([true]);
    expect((await rows(w, batchId)).every((d) => d.state === "imported")).toBe(true);
  });

  it("keeps a follower whose leader took a later slot in its queue for that slot (one update in place), and sends nothing", async () => {
    const w = await world();
    const { batchId } = await accept(w, 4, 100, "KEEP");
    const leader = w.sent.find((s) => s.message.chunk?.first === s.message.rowKey)!;
    const follower = w.sent.find((s) => s.message.chunk && s.message.chunk.first !== s.message.rowKey)!;
    // The leader took a slot long after the one its followers were sent for (a pause, or a busy schedule).
    const leaderRow = (await rows(w, batchId)).find((d) => d.rowKey === leader.message.rowKey)!;
    const later = follower.visibleAt + 60_000;
    await w.services.store.noteNextAttempt(leaderRow, new Date(later).toISOString());
    w.clock.offsetMs += Math.max(0, follower.visibleAt - now(w).getTime());
    const before = w.sent.length;
    const submit = decodeSubmitMessage(follower.message);
    const answer = await processFollower(workerDeps(w), submit, { id: "follower", dequeueCount: 1 }, 5);
    expect(w.sent).toHaveLength(before);
    expect(answer).toMatchObject({ keepForLater: { delayMs: expect.any(Number) } });
    const kept = (answer as KeepForLater).keepForLater;
    expect(decodeSubmitMessage(JSON.parse(Buffer.from(kept.text, "base64").toString("utf8")))).toMatchObject({
      rowKey: submit.rowKey,
      attempt: submit.attempt,
      slotAt: later,
    });
    expect(kept.delayMs).toBeGreaterThan(50_000);
    // Received once too often to be kept again without poisoning: sent anew, as before.
    expect(await processFollower(workerDeps(w), submit, { id: "follower", dequeueCount: 4 }, 5)).toBe("deferred");
    expect(w.sent).toHaveLength(before + 1);
  });

  it("records the devices of a 204 answer by serial number in the next poll round", async () => {
    const w = await world({ importActionAnswer: "empty" });
    const { batchId, serials } = await accept(w, 12, 100, "EMPTY");
    await drive(w);
    createdOnce(w, serials);
    const devices = await rows(w, batchId);
    expect(devices.map((d) => d.state)).toEqual(serials.map(() => "imported"));
    const created = new Map(w.simulator.creates.map((c) => [c.serialNumber, c.id]));
    expect(devices.every((d) => d.graphId === created.get(d.serialNumber) && !d.findRecordBySerial)).toBe(true);
  });

  it("splits a chunk Graph refuses (400) until the one bad device fails alone with its reason", async () => {
    const w = await world();
    const { batchId, tenantId, serials } = await accept(w, 8, 100, "SPLIT");
    const bad = serials[5]!;
    w.simulator.injectFaults({ kind: "status", status: 400, errorCode: "BadRequest", match: { serialNumber: bad } });
    await drive(w);

    const devices = await rows(w, batchId);
    const badRow = devices.find((d) => d.serialNumber === bad)!;
    expect(badRow).toMatchObject({ state: "failed", errorCode: "BadRequest" });
    expect(devices.filter((d) => d.serialNumber !== bad).every((d) => d.state === "imported")).toBe(true);
    createdOnce(
      w,
      serials.filter((s) => s !== bad),
    );
    // 8 → 4 + 4 → 2 + 2 → 1 + 1: one request per chunk tried, the last a create of the bad device alone.
    expect(writes(w, tenantId)).toHaveLength(7);
  });

  it("splits a chunk Graph finds too large (413) into halves that go on, counting no failure", async () => {
    const w = await world();
    const { batchId, tenantId, serials } = await accept(w, 10, 100, "BIG");
    w.simulator.injectFaults({
      kind: "status",
      status: 413,
      errorCode: "RequestEntityTooLarge",
      times: 1,
      match: { pathIncludes: "/import" },
    });
    await drive(w);

    const devices = await rows(w, batchId);
    expect(devices.every((d) => d.state === "imported" && (d.failures ?? 0) === 0)).toBe(true);
    createdOnce(w, serials);
    // The refused chunk of 10, then its two halves of 5, each one import action.
    const posts = writes(w, tenantId);
    expect(posts.map((r) => [r.path.endsWith("/import"), r.status])).toEqual([
      [true, 413],
      [true, 200],
      [true, 200],
    ]);
  });

  it("retries a throttled chunk whole at a new slot, pausing the tenant", async () => {
    const w = await world();
    const { batchId, tenantId, serials } = await accept(w, 20, 100, "THR");
    w.simulator.injectFaults({ kind: "status", status: 429, retryAfterSeconds: 2, times: 1, match: { pathIncludes: "/import" } });
    const outcomes = await drive(w);
    expect(outcomes.leaders).toEqual(["retry-scheduled", "submitted"]);
    createdOnce(w, serials);
    expect((await rows(w, batchId)).every((d) => d.state === "imported" && (d.failures ?? 0) === 0)).toBe(true);
    expect((await w.services.pacing.current(tenantId, now(w).getTime())).pausedUntil).toBeGreaterThan(0);
  });

  /** The worker's deps with a 429 met by another instance (a pause of `pauseMs`) recorded just before the chunk's second look at the schedule. */
  function pausedBeforeSecondLook(w: World, tenantId: string, pauseMs: number) {
    const other = new TenantPacing(
      w.services.storage.pacing,
      pacingBudget(w.services.config.pacing.windowMs, w.services.config.pacing.writesPerWindow, w.services.config.pacing.headroom),
    );
    let reads = 0;
    const pacing = withMethod(w.services.pacing, "current", (async (id: string, at: number, maxAgeMs?: number) => {
      if (++reads === 2) await other.throttledThenReserve(tenantId, pauseMs, now(w).getTime());
      return w.services.pacing.current(id, at, maxAgeMs);
    }) as never);
    return { deps: { ...workerDeps(w), pacing }, reads: () => reads };
  }

  it("gives a claimed chunk back unsent when the tenant paused while it waited for its slot, and sends it once at the moved slot", async () => {
    const w = await world();
    const { batchId, tenantId, serials } = await accept(w, 5, 100, "GIVE");
    const leader = takeLeader(w);
    const { deps, reads } = pausedBeforeSecondLook(w, tenantId, 10_000);
    const before = w.sent.length;
    expect(await processDeviceMessage(deps, leader.message, { id: "waiting-leader", dequeueCount: 1 })).toBe("deferred");
    expect(reads()).toBe(2);
    // Nothing reached Graph, so nothing met the storm; the rows are as they were before the claim.
    expect(writes(w, tenantId)).toHaveLength(0);
    const back = await rows(w, batchId);
    expect(back.map((d) => [d.state, d.attempts, d.claimedBy])).toEqual(serials.map(() => ["queued", 0, undefined]));
    expect((await w.services.store.readSummary(batchId))!.counts.queued).toBe(5);
    // One message, the leader's, at its slot moved by the pause; the followers were not sent again.
    expect(w.sent).toHaveLength(before + 1);
    const again = w.sent.at(-1)!.message as SubmitMessage;
    expect(again.rowKey).toBe(leader.message.rowKey);
    expect(again.attempt).toBe(leader.message.attempt);
    expect(again.slotAt! - leader.message.slotAt!).toBeGreaterThanOrEqual(9_000);

    const outcomes = await drive(w);
    expect(outcomes.leaders).toEqual(["submitted"]);
    createdOnce(w, serials);
    expect(writes(w, tenantId)).toHaveLength(1);
    expect((await rows(w, batchId)).every((d) => d.state === "imported")).toBe(true);
  });

  it("gives a retry's chunk back to retrying, with its last error and counter, when the tenant paused while it waited", async () => {
    const w = await world();
    const { batchId, tenantId, serials } = await accept(w, 5, 100, "GIVER");
    w.simulator.injectFaults({ kind: "status", status: 503, times: 1, match: { pathIncludes: "/import" } });
    expect(await processDeviceMessage(workerDeps(w), takeLeader(w).message, { id: "first", dequeueCount: 1 })).toBe("retry-scheduled");
    const failed = await rows(w, batchId);
    expect(failed.every((d) => d.state === "retrying" && d.attempts === 1)).toBe(true);
    const retry = takeLeader(w);
    const { deps } = pausedBeforeSecondLook(w, tenantId, 10_000);
    expect(await processDeviceMessage(deps, retry.message, { id: "retry", dequeueCount: 1 })).toBe("deferred");
    const back = await rows(w, batchId);
    expect(back.map((d) => [d.state, d.attempts, d.claimedBy, d.errorCode, d.failures])).toEqual(
      failed.map((d) => ["retrying", 1, d.claimedBy, d.errorCode, d.failures]),
    );
    expect(back[0]!.errorCode).toBeTruthy();
    expect((await w.services.store.readSummary(batchId))!.counts).toMatchObject({ queued: 0, retrying: 5 });
    await drive(w);
    createdOnce(w, serials);
    expect((await rows(w, batchId)).every((d) => d.state === "imported")).toBe(true);
  });

  it("a leader redelivered after its host died looks for its records from now, not from its claim: an action sent long after the claim is found, never sent twice", async () => {
    const w = await world();
    const { batchId, serials } = await accept(w, 3, 100, "LATEPOST");
    const leader = takeLeader(w);
    const grace = w.services.config.graph.listGraceMs;
    // The claim lands; storage retries then hold the function past the list's grace before the
    // action leaves (an outage); its host dies before the outcome is recorded.
    const graph = withMethod(w.services.graph, "importDevices", async (...args: Parameters<Services["graph"]["importDevices"]>) => {
      w.clock.offsetMs += grace + 1_000;
      return w.services.graph.importDevices(...args);
    });
    const store = withMethod(w.services.store, "writeInPlace", async () => {
      throw new Error("host died");
    });
    await expect(
      processDeviceMessage({ ...workerDeps(w), graph, store }, leader.message as SubmitMessage, { id: "dying", dequeueCount: 1 }),
    ).rejects.toThrow("host died");
    expect(w.simulator.creates).toHaveLength(3);
    // Redelivered at once, same message: the tenant's list does not show the records yet (it lags creates).
    expect(await processDeviceMessage(workerDeps(w), leader.message as SubmitMessage, { id: "dying", dequeueCount: 2 })).toBe(
      "retry-scheduled",
    );
    expect(w.simulator.creates).toHaveLength(3);
    expect((await rows(w, batchId)).map((d) => d.errorCode)).toEqual(serials.map(() => "ImportLookupPending"));
    await drive(w);
    createdOnce(w, serials);
    expect((await rows(w, batchId)).every((d) => d.state === "imported")).toBe(true);
  });

  it("after a lost answer, finds every device of the chunk by serial number and imports none twice", async () => {
    const w = await world();
    const { batchId, tenantId, serials } = await accept(w, 30, 100, "LOST");
    w.simulator.injectFaults({ kind: "succeedThenFail", status: 504, times: 1, match: { pathIncludes: "/import" } });
    const outcomes = await drive(w);
    expect(outcomes.leaders[0]).toBe("retry-scheduled");
    createdOnce(w, serials);
    expect(writes(w, tenantId)).toHaveLength(1);
    expect((await rows(w, batchId)).every((d) => d.state === "imported")).toBe(true);
  });

  it("sends the chunk again under a new leader message when the leader's does not come, and the old one, back later, finds nothing to do", async () => {
    const w = await world();
    const { batchId, tenantId, serials } = await accept(w, 4, 100, "RESEND");
    // The leader's message is hidden (a receive whose answer an outage cut): it comes back only after the visibility timeout.
    let hidden: DeviceMessage | undefined;
    const outcomes = await drive(w, {
      drop: (m) => {
        if (hidden || m.chunk?.first !== m.rowKey) return false;
        hidden = m;
        return true;
      },
    });
    // No outage seen: the lookout, come early, waits with the followers (a late leader is still to
    // come); at the followers' delay one sends the chunk again, all three wait for it, and then find their devices taken.
    expect(outcomes.leaders).toEqual(["submitted"]);
    expect(outcomes.followers.filter((o) => o !== "deferred")).toEqual(["stale", "stale", "stale"]);
    expect(w.simulator.creates[0]!.at - hidden!.slotAt!).toBeGreaterThanOrEqual(
      w.services.config.importAction.followerDelayMs - MAX_WAIT_IN_FUNCTION_MS,
    );
    const devices = await rows(w, batchId);
    expect(devices.map((d) => d.state)).toEqual(["imported", "imported", "imported", "imported"]);
    // One write for the chunk, the leader's own device in it.
    expect(writes(w, tenantId).filter((r) => r.path.endsWith("/import"))).toHaveLength(1);
    expect(w.simulator.creates.map((c) => c.serialNumber).sort()).toEqual([...serials].sort());
    // The hidden message comes back: its devices are taken, so it is dropped.
    expect(await processDeviceMessage(workerDeps(w), hidden!, { id: "m-hidden", dequeueCount: 2 })).toBe("stale");
    createdOnce(w, serials);
  });

  it("has the chunk's lookout send it again a third of the followers' delay after its slot when storage was away around the slot (a hidden leader)", async () => {
    const w = await world();
    const { batchId, tenantId, serials } = await accept(w, 4, 100, "LOOKOUT");
    let hidden: DeviceMessage | undefined;
    // Storage was away for a moment just at the leader's slot: its receive's answer was cut.
    const reachability = {
      backAfterAwayDuring: () => undefined,
      lastEndedSince: () => undefined,
      awaySinceDuring: (from: number, to: number) => (hidden && hidden.slotAt! >= from && hidden.slotAt! <= to ? hidden.slotAt : undefined),
    };
    const outcomes = await drive(w, {
      deps: { reachability },
      drop: (m) => {
        if (hidden || m.chunk?.first !== m.rowKey) return false;
        hidden = m;
        return true;
      },
    });
    expect(outcomes.leaders).toEqual(["submitted"]);
    const followerDelayMs = w.services.config.importAction.followerDelayMs;
    const written = w.simulator.creates[0]!.at - hidden!.slotAt!;
    // Sent again by the lookout, at the next free slot after a third of the delay: well before the followers come.
    expect(written).toBeGreaterThanOrEqual(followerDelayMs / 3 - MAX_WAIT_IN_FUNCTION_MS);
    expect(written).toBeLessThan(followerDelayMs / 2);
    expect(writes(w, tenantId).filter((r) => r.path.endsWith("/import"))).toHaveLength(1);
    expect((await rows(w, batchId)).map((d) => d.state)).toEqual(["imported", "imported", "imported", "imported"]);
    createdOnce(w, serials);
    expect(await processDeviceMessage(workerDeps(w), hidden!, { id: "m-hidden", dequeueCount: 2 })).toBe("stale");
  });

  it("sends the chunk again once, however many of its followers find the leader missing at the same moment", async () => {
    const w = await world();
    await accept(w, 6, 100, "ONCE");
    const submits = w.sent.filter((s) => s.message.kind === "submit");
    const followers = submits.filter((s) => s.message.chunk?.first !== s.message.rowKey);
    w.sent.length = 0;
    w.clock.offsetMs += Math.max(0, Math.max(...followers.map((f) => f.visibleAt)) - now(w).getTime());
    // The leader's message never comes; its five followers all come at once.
    const outcomes = await Promise.all(
      followers.map((f, i) => processDeviceMessage(workerDeps(w), f.message as SubmitMessage, { id: `f-${i}`, dequeueCount: 1 })),
    );
    expect(outcomes).toEqual(followers.map(() => "deferred"));
    const leaders = w.sent.filter((s) => s.message.chunk?.first === s.message.rowKey);
    expect(leaders).toHaveLength(1);
    // Each follower waits for the new leader's slot and the follower delay after it.
    const leaderSlot = (leaders[0]!.message as SubmitMessage).slotAt!;
    const back = w.sent.filter((s) => s.message.chunk?.first !== s.message.rowKey);
    expect(back).toHaveLength(5);
    for (const f of back) expect(f.visibleAt).toBeGreaterThanOrEqual(leaderSlot);
  });

  it("lets each follower do its device alone when the chunk sent again does not come either, each device still once", async () => {
    const w = await world();
    const { batchId, tenantId, serials } = await accept(w, 4, 100, "ALONE");
    const outcomes = await drive(w, { drop: (m) => m.chunk?.first === m.rowKey && m.attempt === 1, pollRoundsAfterSubmits: 3 });
    // Once per attempt the chunk is sent again (and lost here); then the followers go alone.
    expect(outcomes.followers.filter((o) => o === "rescheduled")).toHaveLength(3);
    expect(w.sent.filter((s) => s.message.kind === "submit")).toHaveLength(0);
    const devices = await rows(w, batchId);
    // The leader's own device has no follower: it is the poison handler's (ProcessingFailed) in real life; here it waits.
    expect(devices.filter((d) => d.state === "imported").map((d) => d.serialNumber)).toEqual(serials.slice(1));
    expect(devices[0]).toMatchObject({ state: "queued", chunkResentFor: 1 });
    expect(writes(w, tenantId).every((r) => !r.path.endsWith("/import"))).toBe(true);
  });

  it("fails the devices a poisoned leader had claimed, so none waits for ever", async () => {
    const w = await world();
    const { batchId, serials } = await accept(w, 6, 100, "POISON");
    const leader = w.sent.find((s) => s.message.chunk?.first === s.message.rowKey)!;
    // The leader claims its chunk, then Graph hangs up and its host keeps dying: the message is poisoned.
    w.simulator.injectFaults({ kind: "drop", match: { pathIncludes: "/import" } });
    w.sent.splice(w.sent.indexOf(leader), 1);
    w.clock.offsetMs += Math.max(0, leader.visibleAt - now(w).getTime());
    const claimed = await w.services.store.readDeviceRange(batchId, leader.message.chunk!.first, 6);
    await w.services.store.writeInPlace(
      claimed.map((device) => ({ device, changes: { state: "submitting", attempts: 1, claimedBy: "dead-host" } })),
    );
    await processPoisonMessage(
      { store: w.services.store, log: silentLogger, queue: recorder(w), pollRestartDelayMs: 1_000 },
      leader.message,
      5,
    );
    const devices = await rows(w, batchId);
    expect(devices.map((d) => [d.state, d.errorCode])).toEqual(serials.map(() => ["failed", "ProcessingFailed"]));
  });
});

/**
 * Found by the fault suite (scenario 2b, storage cut while a batch runs on the import action):
 * the leader's claim transaction is carried out but its answer never reaches the worker; the
 * storage client sends it again, and that retry fails the ETag check against the claim itself.
 * The store reported the chunk's rows as moved by someone else, the leader found nothing to send
 * and was dropped as stale, and its devices stayed `submitting` for ever: their followers found
 * them taken, and a poll round has no record to follow. Here the cut is the chaos proxy's, in
 * front of real Azurite, on exactly that request, so the storage client's own retry runs.
 */
describe("a chunk claim whose answer was lost", () => {
  async function chaosWorld() {
    const chaos = await startStorageChaos(azurite);
    const w = await world({}, chaos.connectionString);
    // Armed for one leader attempt: its first transaction (the claim) lands, its answer is lost.
    // `skip`: transactions let through first (1: the claim, so the chunk's outcome is the one lost).
    const armed = { attempt: 0, lost: 0, skip: 0 };
    // Every table write after the lost answer, so a test can say how the claim found its rows again.
    const after: { method: string; path: string; at: number }[] = [];
    chaos.setRule((_n, request) => {
      if (armed.lost > 0 && request.service === "table" && request.method !== "GET")
        after.push({ method: request.method, path: request.path, at: Date.now() });
      if (armed.attempt === 0 || request.service !== "table" || request.method !== "POST" || !request.path.includes("$batch"))
        return "pass";
      if (armed.skip > 0) {
        armed.skip--;
        return "pass";
      }
      armed.attempt = 0;
      armed.lost++;
      return "lose-answer";
    });
    const arm = (attempt: number) => (message: DeviceMessage) => {
      if (message.kind === "submit" && message.chunk?.first === message.rowKey && message.attempt === attempt) armed.attempt = attempt;
    };
    // The table writes between the lost answer and the chunk's import action: the claim's.
    const claimWrites = (tenantId: string) => {
      const sent = writes(w, tenantId).find((r) => r.path.endsWith("/import") && r.status === 200)!.at;
      return after.filter((r) => r.at < sent).map((r) => `${r.method} ${r.path.includes("$batch") ? "$batch" : "row"}`);
    };
    return { w, chaos, armed, arm, claimWrites, after };
  }

  it("of a first attempt (queued rows): the leader still sends the chunk, and each device is imported once", async () => {
    const { w, chaos, armed, arm, claimWrites } = await chaosWorld();
    try {
      const { batchId, tenantId, serials } = await accept(w, 2, 2, "CLAIMLOST");
      const outcomes = await drive(w, { beforeEach: arm(1), pollRoundsAfterSubmits: 5 });
      expect(armed.lost).toBe(1);
      // The storage client's retry of the claim, then no write a row at a time: the rows read back carry this claim's mark.
      expect(claimWrites(tenantId)).toEqual(["POST $batch"]);
      expect(outcomes.leaders).toEqual(["submitted"]);
      expect(outcomes.followers).toEqual(["stale"]);
      expect(writes(w, tenantId).map((r) => [r.path.endsWith("/import"), r.status])).toEqual([[true, 200]]);
      createdOnce(w, serials);
      expect((await rows(w, batchId)).map((d) => d.state)).toEqual(["imported", "imported"]);
    } finally {
      await chaos.stop();
    }
  });

  it("of the chunk's outcome (after Graph took it): the rows read back as written count, with no write a row at a time", async () => {
    const { w, chaos, armed, arm, after } = await chaosWorld();
    try {
      const { batchId, tenantId, serials } = await accept(w, 2, 2, "OUTCOMELOST");
      const armAfterClaim = (message: DeviceMessage) => {
        arm(1)(message);
        if (armed.attempt === 1) armed.skip = 1;
      };
      const outcomes = await drive(w, { beforeEach: armAfterClaim, pollRoundsAfterSubmits: 5 });
      expect(armed.lost).toBe(1);
      expect(outcomes.leaders).toEqual(["submitted"]);
      // The storage client's retry failed the ETag check against the landed write; on the old code each row was then written alone (and failed).
      expect(after.filter((r) => r.method !== "POST" && r.path.includes("RowKey='device-"))).toEqual([]);
      expect(writes(w, tenantId).map((r) => [r.path.endsWith("/import"), r.status])).toEqual([[true, 200]]);
      createdOnce(w, serials);
      expect((await rows(w, batchId)).map((d) => d.state)).toEqual(["imported", "imported"]);
    } finally {
      await chaos.stop();
    }
  });

  it("of a retry (retrying rows, moved with their counter): the leader still sends the chunk, and each device is imported once", async () => {
    const { w, chaos, armed, arm, claimWrites } = await chaosWorld();
    try {
      const { batchId, tenantId, serials } = await accept(w, 2, 2, "RETRYLOST");
      // 503: nothing was created, the chunk is retried whole at a new slot (its claim moves counters).
      w.simulator.injectFaults({ kind: "status", status: 503, times: 1, match: { pathIncludes: "/import" } });
      const outcomes = await drive(w, { beforeEach: arm(2), pollRoundsAfterSubmits: 5 });
      expect(armed.lost).toBe(1);
      // The storage client's retry, and the store's tries with the counter shard read again; no device moved alone.
      expect(claimWrites(tenantId)).toEqual(["POST $batch", "POST $batch", "POST $batch"]);
      expect(outcomes.leaders).toEqual(["retry-scheduled", "submitted"]);
      expect(outcomes.followers.every((o) => o === "stale")).toBe(true);
      expect(writes(w, tenantId).map((r) => [r.path.endsWith("/import"), r.status])).toEqual([
        [true, 503],
        [true, 200],
      ]);
      createdOnce(w, serials);
      expect((await rows(w, batchId)).map((d) => d.state)).toEqual(["imported", "imported"]);
    } finally {
      await chaos.stop();
    }
  });
});
