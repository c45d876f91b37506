import type { AutopilotDeviceIdentity } from "../graph/importedDevice.js";
import type { TenantPacing } from "../storage/tenantPacing.js";
import { isBatchFinal } from "../model/batchStatus.js";
import { withNote, type BatchEntity } from "../storage/importEntities.js";
import { decideProfile, importedFollow, matchAutopilotDevice, planProfileReads } from "./profileFollow.js";
import { EXISTING_UPDATE_STALE_MS, scheduleExistingUpdates, updatesExisting } from "./updateExisting.js";
import type { CallTrace, GraphClient, GraphFailureResult } from "../graph/graphClient.js";
import { explainImportError, importErrorName } from "../graph/importErrors.js";
import type { ImportedDeviceIdentity } from "../graph/importedDevice.js";
import type { Logger } from "../telemetry/logging.js";
import type { DeviceMessageOf } from "../storage/deviceMessage.js";
import type { DeviceMessageSender } from "../storage/deviceQueue.js";
import type { DeviceFields, StoredDevice } from "../storage/importEntities.js";
import type { BatchSummary, ImportStore } from "../storage/importStore.js";
import { batchStatus } from "../model/batchStatus.js";
import { followUpDelayMs, type FollowUpPolicy } from "../model/backoff.js";
import { classifyFailure } from "./classifyGraphResult.js";
import { decideSettlement, type Settlement } from "./settlement.js";
import { clearedError, importIdOf } from "./createAttempt.js";
import { decideActionRecord } from "./recordOwnership.js";
import { traceFields } from "./traceFields.js";
import { sameSerialNumber } from "../model/hashRules.js";

export interface PollDeps {
  store: ImportStore;
  queue: DeviceMessageSender;
  graph: GraphClient;
  followUp: FollowUpPolicy;
  /** How long after its create a record may still be missing from a list (GRAPH_LIST_GRACE_MS). */
  listGraceMs: number;
  /** How long a final batch is kept (BATCH_RETENTION_DAYS): its erasure time is recorded when it becomes final. */
  retentionMs?: number;
  log: Logger;
  now?: () => Date;
  /** Called once a batch is final (for the Autopilot sync setting). */
  onBatchFinished?: (tenantId: string) => Promise<void>;
  /** Called with the Graph ids of imports that just became final (for the delete setting). */
  onImportsFinal?: (tenantId: string, graphIds: string[]) => Promise<void>;
  /** Write slots for the updates of already-registered devices (onExisting "update"). */
  pacing?: Pick<TenantPacing, "reserve">;
}

/**
 * Up to this many running imports are looked at one GET each; more are looked up in pages of
 * the tenant's collection, where one call answers for up to 999 (see docs/ARCHITECTURE.md).
 */
export const GET_EACH_UP_TO = 10;

export type PollOutcome = "stale" | "finished" | "polled" | "throttled";

/** The first look at a batch's imports, sent by intake beside the devices' own messages. */
export function firstPoll(batchId: string): DeviceMessageOf<"pollBatch"> {
  return { v: 1, kind: "pollBatch", batchId, rowKey: "batch", attempt: 1 };
}

/**
 * One round of following a batch's imports to their end: find the devices Graph accepted,
 * ask Graph how each import went, record every one that settled (in transactions of up to
 * 99 devices), and send the next round, later. One chain of rounds per batch: the header
 * records the last round and the message that took it, like a device row does for its steps.
 */
export async function pollBatch(deps: PollDeps, message: DeviceMessageOf<"pollBatch">, deliveryId: string): Promise<PollOutcome> {
  const startedAt = clock(deps).getTime();
  const first = await deps.store.readBatch(message.batchId);
  if (!first || decidePollRound(first, message, deliveryId) === "stale") return "stale";

  const summary = await deps.store.readSummary(message.batchId);
  if (summary && isFinal(summary)) return finished(deps, summary);

  const batch = await claimRound(deps, message, deliveryId, first);
  if (batch === "stale") return "stale";
  if (batch === "resume") {
    await sendNext(deps, message, first.pollIdleRounds ?? 0, undefined, startedAt);
    return "polled";
  }

  // Devices Graph accepted, each known by the id of its create's answer: `submitted` ones, and
  // `submitting` ones whose attempt stored that id (a submitting device without one is still in
  // its attempt, whose message will settle it).
  // `submitting` ones whose import action answered without their record are found by serial number.
  const running = (await deps.store.devicesInState(message.batchId, "submitted", "submitting")).filter(
    (device) => device.graphId || device.findRecordBySerial,
  );
  const now = clock(deps);
  const looked = await lookUp(deps, batch.tenantId, running);
  const moves = running.flatMap((device) => {
    const follow = device.graphId
      ? followUp(device, looked, now, deps.followUp.settleTimeoutMs, deps.listGraceMs)
      : findBySerial(device, looked, now, deps);
    return follow ? [{ device, ...follow }] : [];
  });
  const moved = moves.length ? new Set(await deps.store.moveDevices(moves)) : new Set<string>();
  const ended = moves.filter((m) => m.changes.state !== "submitted" && moved.has(m.device.rowKey));
  if (ended.length > 0 && deps.onImportsFinal) {
    const ids = ended.flatMap((m) => (m.recordId ? [m.recordId] : []));
    if (ids.length > 0) await deps.onImportsFinal(batch.tenantId, ids);
  }
  // Already registered (806) with onExisting "update": the update of the existing Autopilot
  // device is scheduled once the device says so, and again for one whose update went quiet.
  const updating = [
    ...moves
      .filter((m) => m.changes.existing === "updating" && moved.has(m.device.rowKey))
      .map((m) => ({ rowKey: m.device.rowKey, attempt: 1 })),
    ...running
      .filter(
        (d) =>
          d.existing === "updating" &&
          now.getTime() - Date.parse(d.updatedAt) >= EXISTING_UPDATE_STALE_MS &&
          Date.parse(d.nextAttemptAt ?? d.updatedAt) <= now.getTime(),
      )
      .map((d) => ({ rowKey: d.rowKey, attempt: d.existingAttempt ?? 1 })),
  ];
  if (updating.length > 0 && deps.pacing)
    await scheduleExistingUpdates({ queue: deps.queue, pacing: deps.pacing }, message.batchId, batch.tenantId, updating, now.getTime());

  const profiles = batch.followUntil === "profileAssigned" ? await followProfiles(deps, batch, now) : { moved: 0 };
  const stillRunning = running.length - ended.length;
  // Devices not yet in Graph; submitting ones are counted with queued, and those this round followed are not waiting.
  const waiting = summary
    ? Math.max(0, summary.counts.queued + summary.counts.retrying - running.filter((d) => d.state === "submitting").length)
    : 0;
  if ((stillRunning === 0 && waiting === 0 && running.length > 0) || profiles.moved > 0) {
    const after = await deps.store.readSummary(message.batchId);
    if (after && isFinal(after)) return finished(deps, after);
  }
  const idleRounds = decideIdleRounds(batch.pollIdleRounds ?? 0, {
    progressed: moved.size > 0 || profiles.moved > 0,
    waiting,
    lastSentAt: running.reduce((latest, d) => Math.max(latest, Date.parse(d.submittedAt ?? d.updatedAt) || 0), 0),
    now: now.getTime(),
    firstDelayMs: deps.followUp.firstDelayMs,
  });
  if (idleRounds !== (batch.pollIdleRounds ?? 0)) {
    const fresh = await deps.store.readBatch(message.batchId);
    if (fresh)
      await deps.store.claimPollRound(fresh, {
        pollAttempt: message.attempt,
        pollClaimedBy: deliveryId,
        pollIdleRounds: idleRounds,
        polledAt: now.toISOString(),
      });
  }
  const retryAfterMs = looked.retryAfterMs ?? profiles.retryAfterMs;
  await sendNext(deps, message, idleRounds, retryAfterMs, startedAt);
  return retryAfterMs === undefined ? "polled" : "throttled";
}

/**
 * What a poll round's message may do with the batch's header as read: take the round ("claim"),
 * go on with the round its own delivery took before it failed ("resume"), or nothing ("stale": the
 * batch is gone or being erased, or this round or a later one was taken by another message).
 */
export function decidePollRound(
  batch: Pick<BatchEntity, "pollAttempt" | "pollClaimedBy" | "erasingAt"> | undefined,
  message: Pick<DeviceMessageOf<"pollBatch">, "attempt">,
  deliveryId: string,
): "claim" | "resume" | "stale" {
  // Gone, or being erased (a round still queued when its owner erased the finished batch).
  if (!batch || batch.erasingAt) return "stale";
  const last = batch.pollAttempt ?? 0;
  if (last === message.attempt && batch.pollClaimedBy === deliveryId) return "resume";
  return last >= message.attempt ? "stale" : "claim";
}

/**
 * How many rounds in a row found nothing to do, which the next round's delay doubles with
 * (followUpDelayMs). A round is not idle while the batch still has devices to write, nor when it
 * came within one first delay of the batch's latest write to Graph: those imports cannot have
 * settled yet, and counting it doubled the wait for the round that finds them (the storm bench's
 * clean run: a round 0.2 s after the last writes, the next 6 s later instead of 3). Pure.
 */
export function decideIdleRounds(
  previous: number,
  round: {
    /** The round recorded a device's end or a profile's. */
    progressed: boolean;
    /** Devices of the batch not yet sent to Graph. */
    waiting: number;
    /** When Graph last accepted a device this round followed (0: none). */
    lastSentAt: number;
    now: number;
    firstDelayMs: number;
  },
): number {
  if (round.progressed || round.waiting > 0 || round.now - round.lastSentAt < round.firstDelayMs) return 0;
  return previous + 1;
}

/** How many times a round tries to take the header while other writes keep changing it, before its message is retried. */
export const POLL_CLAIM_TRIES = 5;

/**
 * Takes the round on the header by its ETag. The header is written by more than poll rounds (the
 * fan-out and the sweeper mark the batch accepted, a cancel, a refused tenant), so a claim that
 * loses to the ETag is not proof that another round took it: the header is read again and the
 * round decided again. Returning "stale" on any lost claim ended the batch's only poll chain
 * whenever the fan-out accepted the batch between a round's read and its claim (full fault 2a in
 * CI: 250 devices left submitting).
 */
async function claimRound(
  deps: PollDeps,
  message: DeviceMessageOf<"pollBatch">,
  deliveryId: string,
  read: BatchEntity & { etag: string },
): Promise<(BatchEntity & { etag: string }) | "stale" | "resume"> {
  let batch = read;
  for (let tries = 1; ; tries++) {
    const decision = decidePollRound(batch, message, deliveryId);
    if (decision !== "claim") return decision;
    const changes = {
      pollAttempt: message.attempt,
      pollClaimedBy: deliveryId,
      pollIdleRounds: batch.pollIdleRounds ?? 0,
      polledAt: clock(deps).toISOString(),
    };
    if (await deps.store.claimPollRound(batch, changes)) return batch;
    // Thrown, the message comes back and the chain goes on; dropped, it would end.
    if (tries >= POLL_CLAIM_TRIES) throw new Error(`the batch header kept changing; poll round ${message.attempt} not taken`);
    const fresh = await deps.store.readBatch(message.batchId);
    if (!fresh) return "stale";
    batch = fresh;
  }
}

function isFinal(summary: BatchSummary): boolean {
  return isBatchFinal(
    summary.batch.deviceCount,
    summary.counts,
    summary.batch.followUntil === "profileAssigned" ? summary.profiles : undefined,
  );
}

/**
 * Follows the batch's imported devices that wait for their Autopilot profile: the reads
 * profileFollow.ts plans (filtered lists by shared serial prefix, or one walk of the collection;
 * never a read per device), then each device's decision, in transactions of up to 99. A read
 * that fails leaves every device as it was for this round (and delays the next, after a 429).
 */
async function followProfiles(deps: PollDeps, batch: BatchEntity, now: Date): Promise<{ moved: number; retryAfterMs?: number }> {
  const waiting = await deps.store.devicesWaitingForProfile(batch.partitionKey);
  const plan = planProfileReads(waiting.map((d) => d.serialNumber));
  if (plan.kind === "none") return { moved: 0 };
  const listed: AutopilotDeviceIdentity[] = [];
  const collect = (devices: AutopilotDeviceIdentity[]) => void listed.push(...devices);
  for (const contains of plan.kind === "filtered" ? plan.contains : [undefined]) {
    const walk = await deps.graph.walkAutopilotDevices(batch.tenantId, contains, collect);
    if (walk.kind !== "ok")
      return { moved: 0, retryAfterMs: stopped({ found: new Map(), gone: new Map(), complete: false }, walk).retryAfterMs ?? 0 };
  }
  const at = now.toISOString();
  const moves = waiting.flatMap((device) => {
    const changes = decideProfile(device, matchAutopilotDevice(device, listed), now.getTime(), deps.followUp.profileTimeoutMs);
    return changes ? [{ device, changes: { ...changes, state: "imported" as const, updatedAt: at } }] : [];
  });
  const moved = moves.length ? await deps.store.moveDevices(moves) : [];
  const ended = moves.filter((m) => m.changes.profileState !== "waiting" && moved.includes(m.device.rowKey)).length;
  if (ended > 0)
    deps.log.info("devices followed to their profile", { batchId: batch.partitionKey, tenantId: batch.tenantId, deviceCount: ended });
  // Only a device whose profile wait ended counts as progress for the round's back-off.
  return { moved: ended };
}

async function finished(deps: PollDeps, summary: BatchSummary): Promise<"finished"> {
  // The end of the chain is the one place a batch's final status is recorded for its partner's
  // list, and when it will be erased: counted from its last device's settling, so a duplicate
  // last round records the same time.
  const expiresAt =
    deps.retentionMs === undefined ? undefined : new Date(Date.parse(summary.lastUpdatedAt) + deps.retentionMs).toISOString();
  if (expiresAt) await deps.store.recordExpiry(summary.batch.partitionKey, expiresAt);
  await deps.store.recordStatus(
    { ...summary.batch, ...(expiresAt ? { expiresAt } : {}) },
    batchStatus(summary.batch.deviceCount, summary.counts, summary.profiles),
  );
  await deps.onBatchFinished?.(summary.batch.tenantId);
  return "finished";
}

async function sendNext(
  deps: PollDeps,
  message: DeviceMessageOf<"pollBatch">,
  idleRounds: number,
  retryAfterMs: number | undefined,
  /** When this round began: the next one is due a follow-up delay after it (followUpDelayMs). */
  startedAt: number,
): Promise<void> {
  const delayMs = followUpDelayMs(idleRounds + 1, deps.followUp, retryAfterMs, clock(deps).getTime() - startedAt);
  await deps.queue.send({ ...message, attempt: message.attempt + 1 }, delayMs);
}

interface LookUp {
  found: Map<string, { record: ImportedDeviceIdentity; trace?: CallTrace }>;
  /** Records Graph answered 404 for, with the call that said so. */
  gone: Map<string, CallTrace | undefined>;
  /** True when `found` holds every record of the tenant, so a device missing from it may be deleted. */
  complete: boolean;
  /** The last listing call, for a device whose absence from a complete listing decided it. */
  listTrace?: CallTrace;
  /** Set when Graph stopped answering part-way (throttled or failing): wait at least this long. */
  retryAfterMs?: number;
}

type FollowChanges = Partial<DeviceFields> & { state: "submitted" | "imported" | "failed" };

/**
 * What one round does with one followed device: settle it, record that Graph is importing it (a
 * submitting device, so the counts say so), or nothing (undefined). A record missing from Graph
 * is gone only once its create is older than the list grace: lists lag creates.
 */
function followUp(
  device: StoredDevice,
  looked: LookUp,
  now: Date,
  settleTimeoutMs: number,
  listGraceMs: number,
): { changes: FollowChanges; recordId?: string } | undefined {
  const at = now.toISOString();
  const id = device.graphId ?? "";
  const seen = looked.found.get(id);
  // The create's own time stands for submittedAt: the attempt claimed the device just before it.
  const submittedAt = device.submittedAt ?? device.updatedAt;
  const missing = looked.gone.has(id) || (looked.complete && !seen);
  const gone = missing && now.getTime() - Date.parse(submittedAt) >= listGraceMs;
  const trace = traceFields(seen?.trace ?? (looked.gone.has(id) ? looked.gone.get(id) : looked.listTrace));
  const settlement = decideSettlement({ submittedAt }, seen?.record, gone, now.getTime(), settleTimeoutMs);
  // A record matched by serial number may be another tool's: it is followed, never deleted.
  const ours = !gone && device.recordMatch === undefined;
  if (settlement?.kind === "import-error" && updatesExisting(device, settlement.code)) {
    // onExisting "update": not a failure yet; the existing Autopilot device is updated (updateExisting.ts).
    if (device.existing === "updating") return undefined;
    return {
      changes: {
        state: "submitted",
        importStatus: "error",
        submittedAt,
        ...clearedError,
        existing: "updating",
        existingAttempt: 1,
        notes: withNote(device, {
          code: "AlreadyRegistered",
          message: "Already registered in this tenant (806): applying the batch's group tag and user to the existing Autopilot device.",
        }),
        ...trace,
        updatedAt: at,
      },
    };
  }
  if (settlement)
    return {
      changes: { submittedAt, inDoubt: undefined, inDoubtSince: undefined, ...changesFor(settlement, at, device), ...trace },
      ...(ours ? { recordId: id } : {}),
    };
  if (!seen) return undefined;
  const importStatus = seen.record.state?.deviceImportStatus ?? "unknown";
  // A running import's status is shown as Intune reports it (unknown, then pending): a chunk's
  // devices are all created at once, and a round that saw them `unknown` must not be the last word.
  if (device.state === "submitted" && device.importStatus === importStatus) return undefined;
  return {
    changes: {
      state: "submitted",
      importStatus,
      submittedAt,
      ...clearedError,
      ...trace,
      updatedAt: at,
    },
  };
}

/**
 * A device whose import action answered without its record: which of the tenant's records with
 * its serial number is its (recordOwnership.ts, decideActionRecord). Found, it is followed by id
 * from here on, in this same round; gone or unclear, it fails saying so; otherwise look again.
 */
function findBySerial(
  device: StoredDevice,
  looked: LookUp,
  now: Date,
  deps: PollDeps,
): { changes: FollowChanges; recordId?: string } | undefined {
  if (looked.retryAfterMs !== undefined) return undefined;
  const records = [...looked.found.values()]
    .map((f) => f.record)
    .filter((record) => sameSerialNumber(record.serialNumber, device.serialNumber));
  const sentAt = Date.parse(device.submittedAt ?? device.updatedAt);
  const decision = decideActionRecord({
    records,
    complete: looked.complete,
    importId: importIdOf(device),
    now: now.getTime(),
    sentAt,
    listGraceMs: deps.listGraceMs,
  });
  const at = now.toISOString();
  const trace = traceFields(looked.listTrace);
  switch (decision.kind) {
    case "wait":
      return undefined;
    case "gone":
      return { changes: { ...changesFor({ kind: "gone" }, at, device), findRecordBySerial: undefined, ...trace } };
    case "unclear":
      return {
        changes: {
          state: "failed",
          findRecordBySerial: undefined,
          errorCode: "ImportOwnershipUnclear",
          errorName: undefined,
          errorMessage: `The import action that carried this device answered without its record, and the tenant holds ${decision.recordIds.length} imported records with this serial number (${decision.recordIds.join(", ")}); nobody can tell which is this import's. Check them in Intune.`,
          ...trace,
          updatedAt: at,
        },
      };
    case "ours": {
      const follow = followUp({ ...device, graphId: decision.record.id }, looked, now, deps.followUp.settleTimeoutMs, deps.listGraceMs);
      const changes = follow?.changes ?? { state: device.state as "submitted", updatedAt: at };
      return { ...follow, changes: { ...changes, graphId: decision.record.id, findRecordBySerial: undefined } };
    }
  }
}

async function lookUp(deps: PollDeps, tenantId: string, running: StoredDevice[]): Promise<LookUp> {
  const looked: LookUp = { found: new Map(), gone: new Map(), complete: false };
  if (running.length === 0) return looked;
  // A device known only by its serial number needs the list; one GET per id does not find it.
  if (running.length <= GET_EACH_UP_TO && running.every((device) => device.graphId)) {
    for (const device of running) {
      const id = device.graphId ?? "";
      const result = await deps.graph.getImportedDevice(tenantId, id);
      if (result.kind === "ok") looked.found.set(id, { record: result.body, ...(result.trace ? { trace: result.trace } : {}) });
      else if (result.kind === "http-error" && result.status === 404) looked.gone.set(id, result.trace);
      else return stopped(looked, result);
    }
    return looked;
  }
  let listTrace: CallTrace | undefined;
  const walk = await deps.graph.walkImportedDevices(tenantId, (records, trace) => {
    listTrace = trace;
    for (const record of records) looked.found.set(record.id, { record, ...(trace ? { trace } : {}) });
  });
  if (walk.kind !== "ok") return stopped(looked, walk);
  return { ...looked, complete: walk.complete, ...(listTrace ? { listTrace } : {}) };
}

function stopped(looked: LookUp, result: GraphFailureResult): LookUp {
  const failure = classifyFailure(result);
  return { ...looked, complete: false, retryAfterMs: failure.kind === "transient" ? (failure.retryAfterMs ?? 0) : 0 };
}

function changesFor(
  settlement: Settlement,
  at: string,
  device: Pick<DeviceFields, "followUntil">,
): Partial<DeviceFields> & { state: "imported" | "failed" } {
  switch (settlement.kind) {
    case "imported":
      return {
        state: "imported",
        importStatus: "complete",
        ...(settlement.deviceRegistrationId
          ? { deviceRegistrationId: settlement.deviceRegistrationId, autopilotDeviceId: settlement.deviceRegistrationId }
          : {}),
        ...importedFollow(device, at),
        errorCode: undefined,
        errorName: undefined,
        errorMessage: undefined,
        nextAttemptAt: undefined,
        updatedAt: at,
      };
    case "import-error": {
      const errorName = importErrorName(settlement.code, settlement.name);
      return {
        state: "failed",
        importStatus: "error",
        errorCode: settlement.code ? String(settlement.code) : (errorName ?? "ImportError"),
        errorName,
        errorMessage: explainImportError(settlement.code, settlement.name),
        updatedAt: at,
      };
    }
    case "gone":
      return {
        state: "failed",
        errorCode: "ImportRecordMissing",
        errorName: undefined,
        errorMessage: "The imported record was deleted from Graph before its import finished.",
        updatedAt: at,
      };
    case "timed-out":
      return { state: "failed", errorCode: "ImportTimedOut", errorName: undefined, errorMessage: settlement.message, updatedAt: at };
  }
}

function clock(deps: PollDeps): Date {
  return deps.now ? deps.now() : new Date();
}
