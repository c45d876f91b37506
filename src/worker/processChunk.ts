import type { QueueDelivery } from "../storage/queueText.js";
import type { ImportedDeviceIdentity } from "../graph/importedDevice.js";
import type { SubmitMessage } from "../storage/deviceMessage.js";
import type { DeviceFields, StoredDevice } from "../storage/importEntities.js";
import { sendAllForSlots, sendForSlot } from "../storage/slotSends.js";
import { countSubmitted } from "../telemetry/metrics.js";
import { retryDelayMs } from "../model/backoff.js";
import { chunkSends, matchRecords, splitInHalves } from "./chunks.js";
import { asksTenantToWait, classifyFailure } from "./classifyGraphResult.js";
import { failWaitingDevices } from "./failWaitingDevices.js";
import { dueAt, MAX_WAIT_IN_FUNCTION_MS } from "../model/pacing.js";
import {
  clearedError,
  clock,
  createBody,
  epochClock,
  importIdOf,
  mayHaveCreated,
  type StepOutcome,
  type WorkerDeps,
} from "./createAttempt.js";
import { decideInDoubt, unclearMessage } from "./recordOwnership.js";
import { traceFields, type TraceFields } from "./traceFields.js";
import { judgeMessage } from "./messageGuard.js";
import { slotTiming } from "./slotTiming.js";
import { waitOutSlot } from "./slotRecheck.js";
import { sameSerialNumber } from "../model/hashRules.js";

/** Followers come this long after their chunk's slot unless the deps say otherwise (config: FOLLOWER_DELAY_WINDOWS budget windows). */
export const DEFAULT_FOLLOWER_DELAY_MS = 60_000;
/** Messages of a chunk's next attempt are sent this many at a time. */
const SEND_CONCURRENCY = 16;

/**
 * One attempt of a chunk, run by its leader's message at the chunk's write slot: read the
 * chunk's rows (one range query), claim every device still waiting for this attempt (ETag-
 * conditional, so a device is in at most one chunk that reaches Graph), look up by serial number
 * the devices an earlier attempt may have created, send the rest as one import action, and record
 * the outcome for every device. Never waits for a retry in-process; throws only when storage fails.
 */
export async function processChunk(deps: WorkerDeps, message: SubmitMessage, delivery: QueueDelivery): Promise<StepOutcome> {
  const chunk = message.chunk!;
  const rows = await deps.store.readDeviceRange(message.batchId, chunk.first, chunk.size);
  const mine = rows.filter(
    (d) => d.attempts === message.attempt && d.claimedBy === delivery.id && (d.state === "submitting" || d.state === "retrying"),
  );
  const claimable = rows.filter((d) => (d.state === "queued" || d.state === "retrying") && d.attempts < message.attempt);
  const tenantId = rows[0]?.tenantId;
  if (!tenantId || (mine.length === 0 && claimable.length === 0)) return "stale";
  const now = clock(deps);
  const fields = { batchId: message.batchId, rowKey: message.rowKey, tenantId, attempt: message.attempt };

  if (mine.length > 0) {
    // This very message took the chunk and its host died: finish what it began.
    const scheduled = mine.filter((d) => d.state === "retrying");
    if (scheduled.length > 0) {
      await resendScheduled(deps, message, scheduled);
      return "retry-scheduled";
    }
    const open = mine.filter((d) => !d.graphId && !d.findRecordBySerial);
    if (open.length === 0) return "submitted";
    // A delivery before this one may have sent the action.
    return attemptChunk(deps, message, open, delivery.dequeueCount > 1, undefined, fields);
  }

  let due: { at: number; shiftMs: number } | undefined;
  if (message.slotAt !== undefined) {
    // The schedule read now, not as cached up to half a window ago: a chunk's write carries up to
    // 100 devices, so one read of the tenant's row per write costs 0.01 a device, and a pause
    // another instance recorded (a 429) is seen before this write meets the same 429 and its
    // whole chunk goes back to the queue (the storm bench).
    const { timing, shiftMs } = await slotTiming(deps, tenantId, { ...message, slotAt: message.slotAt }, now.getTime(), fields, 0);
    if (timing.kind === "defer") {
      await sendForSlot(
        deps.queue,
        { message: { ...message, slotAt: timing.due, shiftAt: shiftMs }, slotAt: timing.due },
        MAX_WAIT_IN_FUNCTION_MS,
        epochClock(deps),
      );
      deps.log.info("chunk early for its write slot; back to the queue", { ...fields, delayMs: Math.round(timing.due - now.getTime()) });
      return "deferred";
    }
    if (timing.kind === "go") due = { at: timing.due, shiftMs };
    else {
      // Too late to go at its slot (the message reached a worker late): a new slot, before
      // anything is written. When the tenant's schedule has one free within the wait a function
      // may do, the chunk takes it here; a trip through the queue would only make it late again.
      const slot = await deps.pacing.reserve(tenantId, 1, now.getTime());
      const slotAt = Math.round(slot.firstSlotAt);
      if (slotAt - clock(deps).getTime() <= MAX_WAIT_IN_FUNCTION_MS) {
        deps.log.info("chunk late for its write slot; took the next free one", { ...fields, delayMs: Math.round(timing.lateMs) });
        due = { at: slotAt, shiftMs: slot.shiftMs };
      } else {
        await sendForSlot(
          deps.queue,
          { message: { ...message, slotAt, shiftAt: slot.shiftMs, rescheduled: timing.rescheduled }, slotAt },
          MAX_WAIT_IN_FUNCTION_MS,
          epochClock(deps),
        );
        await markLeaderSlot(deps, rows, message, slotAt);
        deps.log.info("chunk late for its write slot; given a new one", { ...fields, delayMs: Math.round(timing.lateMs) });
        return "rescheduled";
      }
    }
  }

  const taken = await claim(deps, message, delivery, claimable, now.toISOString());
  if (taken.keys.length === 0) return "stale";
  // Claims of retrying devices moved counters through transactions that return no ETags: then the
  // chunk is read once more. Claims of queued devices (a first attempt) came back with theirs.
  const claimedKeys = new Set(taken.keys);
  const claimed =
    taken.rows ??
    (await deps.store.readDeviceRange(message.batchId, chunk.first, chunk.size)).filter(
      (d) => claimedKeys.has(d.rowKey) && d.state === "submitting" && d.claimedBy === delivery.id,
    );
  if (due === undefined) return attemptChunk(deps, message, claimed, false, undefined, fields);
  // The last moments to the slot are waited out here, after the claim, so the action leaves at its slot.
  const waited = await waitOutSlot(deps, tenantId, { due: due.at, shiftMs: due.shiftMs });
  if (waited.kind === "moved") return giveBack(deps, message, claimed, claimable, waited, fields);
  return attemptChunk(deps, message, claimed, false, { due: due.at, waitedMs: waited.waitedMs }, fields);
}

/**
 * A chunk whose slot a pause moved while it waited for it (waitOutSlot): nothing was sent, so
 * its devices go back as they were before the claim (queued, or retrying with their last error),
 * and its leader's message comes again at the moved slot. The chunk's followers move with the
 * pause as it does (dueAt), so they wait for that message as they waited for this one. Cheaper
 * than the 429 it avoids: a write of the chunk's rows and one message, where a 429 also sends
 * every follower again; and the pause's end stays where the first 429 put it.
 */
async function giveBack(
  deps: WorkerDeps,
  message: SubmitMessage,
  claimed: StoredDevice[],
  before: StoredDevice[],
  moved: { due: number; shiftMs: number; waitedMs: number },
  fields: Record<string, string | number>,
): Promise<StepOutcome> {
  const at = clock(deps).toISOString();
  const prior = new Map(before.map((d) => [d.rowKey, d]));
  const undo = (device: StoredDevice) => {
    const was = prior.get(device.rowKey)!;
    return {
      device,
      changes: {
        state: was.state,
        attempts: was.attempts,
        claimedBy: was.claimedBy,
        errorCode: was.errorCode,
        errorName: was.errorName,
        errorMessage: was.errorMessage,
        nextAttemptAt: was.nextAttemptAt,
        inDoubt: was.inDoubt,
        inDoubtSince: was.inDoubtSince,
        updatedAt: at,
      },
    };
  };
  const mine = claimed.filter((d) => prior.has(d.rowKey));
  // A device claimed from queued is counted as queued all along; one claimed from retrying moves its counter back.
  await deps.store.writeInPlaceRows(mine.filter((d) => prior.get(d.rowKey)!.state === "queued").map(undo));
  const retrying = mine.filter((d) => prior.get(d.rowKey)!.state === "retrying");
  if (retrying.length > 0) await deps.store.moveDevices(retrying.map(undo));
  await sendForSlot(
    deps.queue,
    { message: { ...message, slotAt: moved.due, shiftAt: moved.shiftMs }, slotAt: moved.due },
    Math.max(0, MAX_WAIT_IN_FUNCTION_MS - moved.waitedMs),
    epochClock(deps),
  );
  deps.log.info("tenant paused while the chunk waited for its write slot; back to the queue", {
    ...fields,
    deviceCount: mine.length,
    delayMs: Math.round(moved.due - clock(deps).getTime()),
  });
  return "deferred";
}

/**
 * A leader sent back to the queue for a later slot says so on its own row (nextAttemptAt), so
 * the chunk's followers, which come a fixed time after the first slot, wait for this one instead
 * of taking their devices alone while the leader is alive (followerAlone). Best effort: a row
 * that moved meanwhile is left as it is, and the followers go alone as they would anyway.
 */
async function markLeaderSlot(deps: WorkerDeps, rows: StoredDevice[], message: SubmitMessage, slotAt: number): Promise<void> {
  const leader = rows.find(
    (d) => d.rowKey === message.rowKey && (d.state === "queued" || d.state === "retrying") && d.attempts < message.attempt,
  );
  if (!leader) return;
  await deps.store.noteNextAttempt(leader, new Date(slotAt).toISOString());
}

/**
 * Takes the devices for this attempt: a queued one by a row write (no counter moves), a retrying
 * one with its counter. `rows`: the claimed rows as they now are, when every new ETag is known.
 */
async function claim(
  deps: WorkerDeps,
  message: SubmitMessage,
  delivery: QueueDelivery,
  devices: StoredDevice[],
  at: string,
): Promise<{ keys: string[]; rows?: StoredDevice[] }> {
  const first = await claimRows(deps, message, delivery, devices, at, false);
  if (first.keys.length === devices.length) return first;
  // A transaction left out is not always another's: one whose answer was lost (storage cut
  // mid-request) lands, and the storage client's retry of it then fails the ETag check against
  // our own write. Left out of the chunk, such a device would stay `submitting`, held by this
  // message, with nothing to move it on (its follower finds it taken, a poll round has no record
  // to follow). The rows say which are this delivery's: read the chunk back, take every device
  // that carries its mark, and claim again, a row at a time where it must, only those still waiting.
  const mine = (d: StoredDevice) => d.state === "submitting" && d.attempts === message.attempt && d.claimedBy === delivery.id;
  const wanted = new Set(devices.map((d) => d.rowKey));
  const readChunk = async () =>
    (await deps.store.readDeviceRange(message.batchId, message.chunk!.first, message.chunk!.size)).filter((d) => wanted.has(d.rowKey));
  let rows = await readChunk();
  const waiting = rows.filter((d) => !mine(d) && (d.state === "queued" || d.state === "retrying") && d.attempts < message.attempt);
  if (waiting.length > 0) {
    await claimRows(deps, message, delivery, waiting, at, true);
    rows = await readChunk();
  }
  const ours = rows.filter(mine);
  return { keys: ours.map((d) => d.rowKey), rows: ours };
}

/** One claim of `devices`; a transaction that fails its ETag check is written a row at a time only when `oneByOne`. */
async function claimRows(
  deps: WorkerDeps,
  message: SubmitMessage,
  delivery: QueueDelivery,
  devices: StoredDevice[],
  at: string,
  oneByOne: boolean,
): Promise<{ keys: string[]; rows?: StoredDevice[] }> {
  const changes = (device: StoredDevice) => ({
    state: "submitting" as const,
    attempts: message.attempt,
    claimedBy: delivery.id,
    ...clearedError,
    // Whether an earlier attempt may have created a record is not history: the lookup needs it,
    // and when that attempt ran (the list grace counts from there, not from this claim).
    inDoubt: device.inDoubt,
    inDoubtSince: device.inDoubt ? (device.inDoubtSince ?? device.updatedAt) : undefined,
    updatedAt: at,
  });
  const queued = devices.filter((d) => d.state === "queued");
  const retrying = devices.filter((d) => d.state === "retrying");
  const written = await deps.store.writeInPlaceRows(
    queued.map((device) => ({ device, changes: changes(device) })),
    { oneByOne },
  );
  const moved =
    retrying.length > 0
      ? await deps.store.moveDevices(
          retrying.map((device) => ({ device, changes: changes(device) })),
          { oneByOne },
        )
      : [];
  const keys = [...written.map((d) => d.rowKey), ...moved];
  return moved.length === 0 && written.every((d) => d.etag) ? { keys, rows: written } : { keys };
}

async function attemptChunk(
  deps: WorkerDeps,
  message: SubmitMessage,
  claimed: StoredDevice[],
  resumedAfterCrash: boolean,
  /** The slot this attempt waited for (waitOutSlot), and how long it waited. */
  slot: { due: number; waitedMs: number } | undefined,
  fields: Record<string, string | number>,
): Promise<StepOutcome> {
  if (claimed.length === 0) return "stale";
  const tenantId = claimed[0]!.tenantId;
  const slotWaitMs = slot?.waitedMs ?? 0;
  const logFields = {
    ...fields,
    slotWaitMs,
    deviceCount: claimed.length,
    ...(slot !== undefined ? { lateMs: Math.max(0, Math.round(clock(deps).getTime() - slot.due)) } : {}),
  };

  // Devices an earlier attempt may have created are looked for first, all with one walk of the tenant's records.
  const doubtful = claimed.filter((d) => d.inDoubt || resumedAfterCrash);
  let toSend = claimed.filter((d) => !doubtful.includes(d));
  if (doubtful.length > 0) {
    const looked = await lookUpDoubtful(deps, tenantId, doubtful);
    const stillDoubtful = new Set(doubtful.map((d) => d.rowKey));
    if (looked.kind === "failed")
      return retryChunk(deps, message, claimed, { ...looked.failure, doubt: "keep", doubtful: stillDoubtful, slotWaitMs, logFields });
    if (looked.waitUntil !== undefined) {
      return retryChunk(deps, message, claimed, {
        kind: "wait",
        errorCode: "ImportLookupPending",
        errorMessage:
          "An earlier import of this device may have reached Intune; looking for its record again once the tenant's list can show it.",
        notBefore: looked.waitUntil,
        doubt: "keep",
        doubtful: stillDoubtful,
        trace: looked.trace,
        slotWaitMs,
        logFields,
      });
    }
    await recordFound(deps, looked.found, looked.trace);
    for (const { device, decision } of looked.unclear) {
      await failAll(deps, [device], "ImportOwnershipUnclear", unclearMessage(decision), looked.trace);
    }
    toSend = [...toSend, ...looked.create];
  }
  if (toSend.length === 0) return "submitted";

  const result = await deps.graph.importDevices(tenantId, toSend.map(createBody));
  const trace = traceFields(result.trace);
  const at = clock(deps).toISOString();
  if (result.kind === "ok") {
    const records = result.body?.value ?? [];
    const matched = matchRecords(toSend, records);
    countSubmitted(toSend.length);
    await deps.store.writeInPlace(
      toSend.map((device) => {
        const record = matched.get(device.rowKey);
        // Graph made a record for every device it took; one the answer left out is found by serial number later.
        const recorded: Partial<DeviceFields> = record
          ? { graphId: record.id, importStatus: record.state?.deviceImportStatus ?? "unknown", findRecordBySerial: undefined }
          : { findRecordBySerial: true, importStatus: "unknown" };
        return { device, changes: { ...clearedError, ...recorded, submittedAt: device.submittedAt ?? at, ...trace, updatedAt: at } };
      }),
    );
    deps.log.info("chunk submitted", {
      ...logFields,
      ...trace,
      status: result.status,
      reason: `${matched.size} of ${toSend.length} records in the answer`,
    });
    return "submitted";
  }

  const failure = classifyFailure(result, tenantId, deps.graph.consentUrlFor(tenantId));
  const status = result.kind === "http-error" ? result.status : undefined;
  if (failure.kind === "tenant") {
    await failAll(deps, toSend, failure.errorCode, failure.errorMessage, trace);
    const others = await failWaitingDevices(deps.store, message.batchId, failure, at);
    deps.log.error("tenant refuses the app; failing the batch's waiting devices", {
      ...logFields,
      ...trace,
      ...(status ? { status } : {}),
      errorCode: failure.errorCode,
      deviceCount: others + toSend.length,
    });
    return "failed";
  }
  if (failure.kind === "permanent") {
    if (toSend.length > 1 && (status === 400 || status === 413))
      return splitChunk(deps, message, toSend, { code: failure.errorCode, message: failure.errorMessage, trace, slotWaitMs, logFields });
    await failAll(deps, toSend, failure.errorCode, failure.errorMessage, trace);
    deps.log.warn("Graph rejected the import action", {
      ...logFields,
      ...trace,
      ...(status ? { status } : {}),
      errorCode: failure.errorCode,
    });
    return "failed";
  }
  return retryChunk(deps, message, toSend, {
    kind: asksTenantToWait(status, failure.retryAfterMs) ? "throttled" : "transient",
    errorCode: failure.errorCode,
    errorMessage: failure.errorMessage,
    ...(failure.retryAfterMs !== undefined ? { retryAfterMs: failure.retryAfterMs } : {}),
    // A lost answer leaves every device of the chunk in doubt; one walk answers for all at the next attempt.
    doubt: mayHaveCreated(result) ? "new" : "none",
    trace,
    slotWaitMs,
    logFields: { ...logFields, ...(status ? { status } : {}) },
  });
}

interface DoubtLookup {
  kind: "ok";
  found: { device: StoredDevice; record: ImportedDeviceIdentity; matched: boolean }[];
  create: StoredDevice[];
  unclear: { device: StoredDevice; decision: Extract<ReturnType<typeof decideInDoubt>, { kind: "unclear" }> }[];
  waitUntil?: number;
  trace: TraceFields;
}

/** One walk of the tenant's records, then the rule of recordOwnership.ts for each device. */
async function lookUpDoubtful(
  deps: WorkerDeps,
  tenantId: string,
  devices: StoredDevice[],
): Promise<DoubtLookup | { kind: "failed"; failure: RetryReason }> {
  const bySerial = new Map<StoredDevice, ImportedDeviceIdentity[]>(devices.map((d) => [d, []]));
  let lastTrace: Parameters<typeof traceFields>[0];
  const walk = await deps.graph.walkImportedDevices(tenantId, (records, trace) => {
    lastTrace = trace;
    for (const record of records)
      for (const device of devices) if (sameSerialNumber(record.serialNumber, device.serialNumber)) bySerial.get(device)!.push(record);
  });
  const trace = traceFields(walk.trace ?? lastTrace);
  if (walk.kind !== "ok") {
    const failure = classifyFailure(walk);
    return {
      kind: "failed",
      failure: {
        kind: "transient",
        errorCode: failure.errorCode,
        errorMessage: failure.errorMessage,
        trace,
        ...(failure.kind === "transient" && failure.retryAfterMs !== undefined ? { retryAfterMs: failure.retryAfterMs } : {}),
      },
    };
  }
  const looked: DoubtLookup = { kind: "ok", found: [], create: [], unclear: [], trace };
  const now = clock(deps).getTime();
  for (const device of devices) {
    // The claim carried the doubt's start. A device resumed after a crash is in doubt from now
    // (submitDecisions.ts, doubtOf): the delivery before may have sent the chunk any time since its
    // claim, or be sending it still.
    const doubtSince = device.inDoubtSince ? Date.parse(device.inDoubtSince) : now;
    const decision = decideInDoubt({
      records: bySerial.get(device)!,
      complete: walk.complete,
      importId: importIdOf(device),
      now,
      doubtSince,
      listGraceMs: deps.listGraceMs,
    });
    switch (decision.kind) {
      case "ours":
      case "matched":
        looked.found.push({ device, record: decision.record, matched: decision.kind === "matched" });
        break;
      case "create":
        looked.create.push(device);
        break;
      case "wait":
        looked.waitUntil = Math.max(looked.waitUntil ?? 0, decision.untilMs);
        break;
      case "unclear":
        looked.unclear.push({ device, decision });
        break;
    }
  }
  return looked;
}

/** Records found by serial number: their ids go on the devices, and the poll rounds follow them from there. */
async function recordFound(deps: WorkerDeps, found: DoubtLookup["found"], trace: TraceFields): Promise<void> {
  if (found.length === 0) return;
  const at = clock(deps).toISOString();
  await deps.store.writeInPlace(
    found.map(({ device, record, matched }) => ({
      device,
      changes: {
        ...clearedError,
        graphId: record.id,
        importStatus: record.state?.deviceImportStatus ?? "unknown",
        submittedAt: device.submittedAt ?? at,
        ...(matched ? { recordMatch: "serialNumber" as const } : {}),
        ...trace,
        updatedAt: at,
      },
    })),
  );
}

/**
 * What the retried devices' doubt is: "new", this attempt's answer was lost (in doubt from now);
 * "keep", an earlier doubt this attempt could not resolve (its start kept, so the list grace
 * ends once); "none", nothing can have been created (429, 503, a refusal).
 */
type Doubt = "new" | "keep" | "none";

interface RetryReason {
  kind: "throttled" | "transient" | "wait";
  errorCode: string;
  errorMessage: string;
  retryAfterMs?: number;
  notBefore?: number;
  trace: TraceFields;
}

/**
 * The chunk is tried again whole, later, in its tenant's schedule: a 429 (or a 503 with
 * Retry-After) pauses the tenant and costs no failure, another transient failure backs off and
 * counts one for each device.
 */
async function retryChunk(
  deps: WorkerDeps,
  message: SubmitMessage,
  devices: StoredDevice[],
  reason: RetryReason & { doubt: Doubt; doubtful?: ReadonlySet<string>; slotWaitMs: number; logFields: Record<string, string | number> },
): Promise<StepOutcome> {
  const at = clock(deps).toISOString();
  const now = Date.parse(at);
  // A 429 pauses the tenant before anything else is read: every write still waiting for its slot
  // looks at the schedule just before it goes (waitOutSlot), and each moment earlier is one more
  // of them kept out of the storm. A canceled batch leaves the retry's slot unused.
  const throttledSlot =
    reason.kind === "throttled"
      ? await deps.pacing.throttledThenReserve(
          devices[0]!.tenantId,
          reason.retryAfterMs ?? retryDelayMs(1, deps.retry, undefined, deps.random),
          now,
        )
      : undefined;
  // Nothing was created (no doubt), and the batch was canceled meanwhile: the devices end here.
  if (reason.doubt === "none" && (await deps.store.readBatch(message.batchId))?.canceledAt) {
    await deps.store.moveDevices(
      devices.map((device) => ({ device, changes: { state: "canceled" as const, ...clearedError, updatedAt: at } })),
    );
    return "canceled";
  }
  const counts = reason.kind === "transient";
  const failures = Math.max(...devices.map((d) => d.failures ?? 0)) + (counts ? 1 : 0);
  if (failures >= deps.retry.maxAttempts) {
    const text = `retries exhausted after ${failures} transient failures; last error: ${reason.errorCode}: ${reason.errorMessage}`;
    await failAll(deps, devices, "RetriesExhausted", text, reason.trace, { failures });
    deps.log.warn("retries exhausted", { ...reason.logFields, ...reason.trace, errorCode: reason.errorCode });
    return "failed";
  }
  const notBefore = reason.notBefore ?? now + retryDelayMs(Math.max(1, failures), deps.retry, reason.retryAfterMs, deps.random);
  const slot = throttledSlot ?? (await deps.pacing.reserve(devices[0]!.tenantId, 1, now, notBefore));
  const slotAt = Math.round(slot.firstSlotAt);
  await moveToRetrying(deps, devices, {
    failures,
    doubt: reason.doubt,
    doubtful: reason.doubtful ?? new Set(),
    slotAt,
    errorCode: reason.errorCode,
    errorMessage: reason.errorMessage,
    trace: reason.trace,
    at,
  });
  await sendChunk(
    deps,
    message,
    devices.map((d) => d.index),
    slotAt,
    slot.shiftMs,
    MAX_WAIT_IN_FUNCTION_MS - reason.slotWaitMs,
  );
  deps.log.info("chunk retry scheduled", { ...reason.logFields, ...reason.trace, errorCode: reason.errorCode, delayMs: slotAt - now });
  return "retry-scheduled";
}

/** A chunk Graph refused as a whole: each half at its own slot, so one bad device ends up alone with its own reason. */
async function splitChunk(
  deps: WorkerDeps,
  message: SubmitMessage,
  devices: StoredDevice[],
  refusal: { code: string; message: string; trace: TraceFields; slotWaitMs: number; logFields: Record<string, string | number> },
): Promise<StepOutcome> {
  const at = clock(deps).toISOString();
  const now = Date.parse(at);
  const byIndex = new Map(devices.map((d) => [d.index, d]));
  const halves = splitInHalves(devices.map((d) => d.index));
  const slots = await deps.pacing.reserve(devices[0]!.tenantId, halves.length, now);
  let hold = MAX_WAIT_IN_FUNCTION_MS - refusal.slotWaitMs;
  for (const [k, half] of halves.entries()) {
    const slotAt = Math.round(slots.firstSlotAt + k * slots.intervalMs);
    const members = half.map((index) => byIndex.get(index)!);
    // A split is not a transient failure: failures stay as they were.
    await moveToRetrying(deps, members, {
      failures: undefined,
      doubt: "none",
      doubtful: new Set(),
      slotAt,
      errorCode: refusal.code,
      errorMessage: `${refusal.message} (the chunk is tried again in halves)`,
      trace: refusal.trace,
      at,
    });
    hold -= await sendChunk(deps, message, half, slotAt, slots.shiftMs, Math.max(0, hold));
  }
  deps.log.info("chunk refused as a whole; tried again in halves", {
    ...refusal.logFields,
    ...refusal.trace,
    errorCode: refusal.code,
    reason: halves.map((h) => h.length).join("+"),
  });
  return "retry-scheduled";
}

async function moveToRetrying(
  deps: WorkerDeps,
  devices: StoredDevice[],
  plan: {
    failures: number | undefined;
    doubt: Doubt;
    doubtful: ReadonlySet<string>;
    slotAt: number;
    errorCode: string;
    errorMessage: string;
    trace: TraceFields;
    at: string;
  },
): Promise<void> {
  const since = (device: StoredDevice): string | undefined => {
    if (plan.doubt === "new") return plan.at;
    if (plan.doubt === "keep" && plan.doubtful.has(device.rowKey)) return device.inDoubtSince ?? plan.at;
    return undefined;
  };
  await deps.store.moveDevices(
    devices.map((device) => ({
      device,
      changes: {
        state: "retrying" as const,
        ...(plan.failures !== undefined ? { failures: plan.failures } : {}),
        inDoubt: since(device) !== undefined || undefined,
        inDoubtSince: since(device),
        nextAttemptAt: new Date(plan.slotAt).toISOString(),
        errorCode: plan.errorCode,
        errorName: undefined,
        errorMessage: plan.errorMessage,
        ...plan.trace,
        updatedAt: plan.at,
      },
    })),
  );
}

/** The next attempt's messages, one per device: the leader's (held for its lead, within `maxHoldMs`), then the followers'. */
async function sendChunk(
  deps: WorkerDeps,
  message: SubmitMessage,
  indices: number[],
  slotAt: number,
  shiftAt: number,
  maxHoldMs: number,
): Promise<number> {
  const [leader, ...followers] = chunkSends(
    message.batchId,
    indices,
    message.attempt + 1,
    slotAt,
    shiftAt,
    deps.followerDelayMs ?? DEFAULT_FOLLOWER_DELAY_MS,
  );
  const held = await sendForSlot(deps.queue, leader!, maxHoldMs, epochClock(deps));
  if (followers.length > 0) await sendAllForSlots(deps.queue, followers, SEND_CONCURRENCY, epochClock(deps));
  return held;
}

/** A crash after the devices were set to retry, before their messages went: send them now, grouped by their slot. */
async function resendScheduled(deps: WorkerDeps, message: SubmitMessage, devices: StoredDevice[]): Promise<void> {
  const bySlot = new Map<string, number[]>();
  for (const device of devices) {
    const key = device.nextAttemptAt ?? "";
    bySlot.set(key, [...(bySlot.get(key) ?? []), device.index]);
  }
  for (const [nextAttemptAt, indices] of bySlot) {
    const slotAt = nextAttemptAt ? Date.parse(nextAttemptAt) : clock(deps).getTime();
    const { shiftMs } = await deps.pacing.current(devices[0]!.tenantId, clock(deps).getTime());
    await sendChunk(deps, message, indices, slotAt, shiftMs, 0);
  }
}

async function failAll(
  deps: WorkerDeps,
  devices: StoredDevice[],
  errorCode: string,
  errorMessage: string,
  trace: TraceFields,
  extra: Partial<DeviceFields> = {},
): Promise<void> {
  const at = clock(deps).toISOString();
  await deps.store.moveDevices(
    devices.map((device) => ({
      device,
      changes: {
        ...extra,
        ...trace,
        state: "failed" as const,
        errorCode,
        errorName: undefined,
        errorMessage,
        nextAttemptAt: undefined,
        inDoubt: undefined,
        updatedAt: at,
      },
    })),
  );
}

/**
 * A follower's device was not taken by its chunk's leader. Most often the leader's message is
 * hidden, not gone: a receive whose answer a storage outage cut leaves it invisible for the
 * host's visibility timeout (10 minutes on Functions, 5 on the development host; the storm bench
 * met one that held its device 300 s), while the leader's own device has no follower to take it.
 * So the first follower to come sends the chunk again under a new leader message, at a new slot
 * (resendChunk), once per attempt, and waits for it like the chunk's other followers: one write
 * for the chunk, the leader's device with it. When that one does not come either (or the leader
 * was poisoned), the device goes alone, as a create at a new slot of its tenant. Whichever message
 * comes, its claim of a device or another's wins, never both.
 */
export async function followerAlone(deps: WorkerDeps, message: SubmitMessage, device: StoredDevice): Promise<StepOutcome> {
  const now = clock(deps).getTime();
  const followerDelayMs = deps.followerDelayMs ?? DEFAULT_FOLLOWER_DELAY_MS;
  const { shiftMs } = await deps.pacing.current(device.tenantId, now);
  let slotAt = dueAt(message.slotAt ?? now, message.shiftAt ?? shiftMs, shiftMs);
  // The leader, late for the chunk's slot, may have been given a later one (markLeaderSlot), or
  // the chunk sent again (resendChunk).
  const leaderNextOf = (leader: StoredDevice | undefined) =>
    leader && judgeMessage(leader, message, "") === "fresh" && leader.nextAttemptAt ? Date.parse(leader.nextAttemptAt) : undefined;
  let leader = await deps.store.readDevice(message.batchId, message.chunk!.first);
  let leaderNext = leaderNextOf(leader);
  const leaderAwaited = leaderNext !== undefined && leaderNext > slotAt;
  // The lookout (come before the followers' delay) sends the chunk again only when storage was
  // away around the leader's slot, the one way a leader is hidden rather than late; otherwise it
  // waits with the other followers, as a leader merely late (a busy host) is still to come.
  const early = now < slotAt + followerDelayMs - MAX_WAIT_IN_FUNCTION_MS;
  const leaderMayBeHidden =
    !early || deps.reachability?.awaySinceDuring((message.slotAt ?? now) - MAX_WAIT_IN_FUNCTION_MS, now) !== undefined;
  if (
    leader &&
    !leaderAwaited &&
    leaderMayBeHidden &&
    judgeMessage(leader, message, "") === "fresh" &&
    leader.chunkResentFor !== message.attempt
  ) {
    leader = await resendChunk(deps, message, leader, now);
    leaderNext = leaderNextOf(leader);
  }
  if (leaderNext !== undefined && leaderNext > slotAt) slotAt = leaderNext;
  const due = slotAt + followerDelayMs;
  if (due - now > MAX_WAIT_IN_FUNCTION_MS) {
    // A pause moved the chunk's slot after this message was sent, or its leader took a later
    // one: the leader still has its turn.
    await deps.queue.send({ ...message, shiftAt: shiftMs, slotAt }, due - now);
    return "deferred";
  }
  const slot = await deps.pacing.reserve(device.tenantId, 1, now);
  const ownSlotAt = Math.round(slot.firstSlotAt);
  const { chunk: _chunk, rescheduled: _rescheduled, ...alone } = message;
  await sendForSlot(
    deps.queue,
    { message: { ...alone, slotAt: ownSlotAt, shiftAt: slot.shiftMs }, slotAt: ownSlotAt },
    MAX_WAIT_IN_FUNCTION_MS,
    epochClock(deps),
  );
  deps.log.warn("device left behind by its chunk; going alone", {
    batchId: message.batchId,
    rowKey: message.rowKey,
    tenantId: device.tenantId,
    attempt: message.attempt,
    delayMs: ownSlotAt - now,
  });
  return "rescheduled";
}

/**
 * Sends a chunk whose leader did not come again, under a new leader message at a new slot of the
 * tenant. The leader's row is marked first (conditional on its ETag), so of the chunk's followers,
 * which come together, one sends and reserves a slot; the others find the mark and wait. The
 * leader's row as it now is (re-read when another follower's mark won). The leader's old message,
 * when it comes back, finds its devices taken and is dropped.
 */
async function resendChunk(deps: WorkerDeps, message: SubmitMessage, leader: StoredDevice, now: number): Promise<StoredDevice | undefined> {
  const marked = await deps.store.noteNextAttempt(leader, new Date(now).toISOString(), { chunkResentFor: message.attempt });
  if (!marked) return deps.store.readDevice(message.batchId, leader.rowKey);
  const slot = await deps.pacing.reserve(leader.tenantId, 1, now);
  const slotAt = Math.round(slot.firstSlotAt);
  // The slot goes on the row before the message leaves; a follower that read the first mark comes back early and looks again.
  const noted = (await deps.store.noteNextAttempt(marked, new Date(slotAt).toISOString())) ?? marked;
  const { rescheduled: _rescheduled, ...again } = message;
  await sendForSlot(
    deps.queue,
    { message: { ...again, rowKey: leader.rowKey, slotAt, shiftAt: slot.shiftMs }, slotAt },
    MAX_WAIT_IN_FUNCTION_MS,
    epochClock(deps),
  );
  deps.log.warn("chunk's leader did not come; sent the chunk again under a new leader message", {
    batchId: message.batchId,
    rowKey: leader.rowKey,
    tenantId: leader.tenantId,
    attempt: message.attempt,
    delayMs: slotAt - now,
  });
  return noted;
}
