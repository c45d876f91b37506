import type { BatchActionDeps } from "../batches/batchActionDeps.js";
import type { ErasureDeps } from "../batches/eraseBatch.js";
import type { ListBatchesDeps } from "../batches/listBatches.js";
import { failPoisonedDeregistration, type DeregisterDeps } from "../deregistration/deregisterDevice.js";
import type { DeregistrationPostDeps } from "../deregistration/deregistrationIntake.js";
import type { DeregistrationStatusDeps } from "../deregistration/deregistrationStatus.js";
import type { FanOutDeps } from "../intake/fanOutBatch.js";
import type { ImportPostDeps } from "../intake/handleImportPost.js";
import type { SweepDeps } from "../intake/sweepIntake.js";
import type { Chunking } from "../intake/submitBatch.js";
import type { NotifyDeps } from "../status/notifyBatch.js";
import type { StatusDeps } from "../status/statusHandlers.js";
import type { DeviceMessageOf } from "../storage/deviceMessage.js";
import type { DeliverDeps } from "../webhooks/deliverWebhook.js";
import type { DeleteDeps } from "../worker/deleteRecords.js";
import type { PollDeps } from "../worker/pollBatch.js";
import type { PoisonDeps } from "../worker/processPoisonMessage.js";
import type { WorkerDeps } from "../worker/createAttempt.js";
import type { SyncDeps } from "../worker/syncTenant.js";
import type { ExistingDeps } from "../worker/updateExisting.js";
import type { Services } from "./services.js";
import { pollStallMs, type RestartPollsDeps } from "../worker/restartStalledPolls.js";

/*
 * The steps take these narrow bundles, not Services: they sit below src/app (eslint.config.js,
 * LAYERS) and their tests pass fakes. Fields several bundles share are copied once, in the
 * unexported bundles the others spread.
 */

/** How intake and the sweeper cut a batch into import actions (one device each in create mode). */
function chunkingOf(s: Services): Chunking {
  return { size: s.config.importAction.chunkSize, followerDelayMs: s.config.importAction.followerDelayMs };
}

/** Recording a batch's devices and sending their first messages: intake, retry and the sweeper do it alike. */
function enqueueDeps(s: Services) {
  return {
    store: s.store,
    journal: s.journal,
    queue: s.queue,
    pacing: s.pacing,
    enqueueConcurrency: s.config.intake.enqueueConcurrency,
    firstPollDelayMs: s.config.followUp.firstDelayMs,
    log: s.log,
    now: s.storage.clock.nowDate,
  };
}

export function importPostDeps(s: Services): ImportPostDeps {
  return {
    ...enqueueDeps(s),
    chunking: chunkingOf(s),
    limits: s.config.intake,
    fanOut: s.fanOut,
    fanOutRangeDevices: s.config.intake.fanOutRangeDevices,
    retryAfterSeconds: s.config.statusRetryAfterSeconds,
    ...(s.config.graph.defaultTenantId ? { defaultTenantId: s.config.graph.defaultTenantId } : {}),
    webhookAllowedHosts: s.config.webhooks.allowedHosts,
    rateLimit: s.rateLimit,
    idempotency: {
      idempotency: s.idempotency,
      readBatch: (id: string) => s.store.readBatch(id),
      ttlMs: s.config.partnerApi.idempotencyTtlMs,
    },
  };
}

/** The import route's gate (rate limit, Idempotency-Key, body size, tenancy), with the deregistration store. */
export function deregistrationPostDeps(s: Services): DeregistrationPostDeps {
  return { ...importPostDeps(s), deregistrations: s.deregistrations };
}

export function batchActionDeps(s: Services): BatchActionDeps {
  return { ...enqueueDeps(s), retryAfterSeconds: s.config.statusRetryAfterSeconds };
}

export function sweepDeps(s: Services, graceMs: number): SweepDeps {
  return {
    ...enqueueDeps(s),
    batchIndex: s.batchIndex,
    chunking: chunkingOf(s),
    fanOutProgress: s.fanOutProgress,
    fanOut: s.fanOut,
    graceMs,
  };
}

export function fanOutDeps(s: Services): FanOutDeps {
  return {
    store: s.store,
    progress: s.fanOutProgress,
    journal: s.journal,
    // Every range this instance runs shares one limit on sends in flight (sendLimiter.ts).
    queue: s.fanOutSends.wrap(s.queue),
    pacing: s.pacing,
    enqueueConcurrency: s.config.intake.fanOutConcurrency,
    followerDelayMs: s.config.importAction.followerDelayMs,
    log: s.log,
    now: s.storage.clock.nowDate,
  };
}

export function listBatchesDeps(s: Services): ListBatchesDeps {
  return { store: s.store, index: s.batchIndex };
}

export function statusDeps(s: Services): StatusDeps {
  return { store: s.store, retryAfterSeconds: s.config.statusRetryAfterSeconds, webhookEvents: s.webhooks.notifications };
}

export function deregistrationStatusDeps(s: Services): DeregistrationStatusDeps {
  return { ...statusDeps(s), deregistrations: s.deregistrations };
}

/** The poll chains' safety net (src/worker/restartStalledPolls.ts). */
export function restartPollsDeps(s: Services): RestartPollsDeps {
  return {
    index: s.batchIndex,
    store: s.store,
    queue: s.queue,
    log: s.log,
    now: s.storage.clock.now,
    stallMs: pollStallMs(s.config.followUp.maxDelayMs),
    take: 500,
  };
}

export function erasureDeps(s: Services): ErasureDeps {
  return { store: s.store, index: s.batchIndex, idempotency: s.idempotency, journal: s.journal, log: s.log };
}

/**
 * What every step that writes to Graph at a tenant's pace shares; `now` is the clock slots are
 * kept by (serviceClock.ts), as a number (the bundles that want a Date map it).
 */
function graphStepDeps(s: Services) {
  return { queue: s.queue, pacing: s.pacing, graph: s.graph, log: s.log, now: s.storage.clock.now };
}

/** A device's own step (create, update, delete): its row, and the retry policy for its next attempt. */
function deviceStepDeps(s: Services) {
  return { ...graphStepDeps(s), store: s.store, retry: s.config.retry };
}

/** What a device message's step needs (src/worker/processDeviceMessage.ts), from an instance's services. */
export function workerDeps(s: Services): WorkerDeps {
  return {
    ...deviceStepDeps(s),
    listGraceMs: s.config.graph.listGraceMs,
    followerDelayMs: s.config.importAction.followerDelayMs,
    chunkClaims: s.chunkClaims,
    reachability: s.storage.reachability,
    now: s.storage.clock.nowDate,
  };
}

export function updateExistingDeps(s: Services): ExistingDeps {
  return deviceStepDeps(s);
}

export function deregisterDeps(s: Services): DeregisterDeps {
  return {
    ...deviceStepDeps(s),
    deregistrations: s.deregistrations,
    partners: s.partners,
    retentionMs: s.config.batchRetentionMs,
    notify: webhookNotifyDeps(s),
  };
}

/** A poll round, without what happens when the batch or its imports become final (the caller adds that). */
export function pollDeps(s: Services): PollDeps {
  return {
    ...graphStepDeps(s),
    store: s.store,
    followUp: s.config.followUp,
    listGraceMs: s.config.graph.listGraceMs,
    retentionMs: s.config.batchRetentionMs,
    now: s.storage.clock.nowDate,
  };
}

export function syncDeps(s: Services): SyncDeps {
  return { ...graphStepDeps(s), table: s.storage.pacing, debounceMs: s.config.sync.debounceMs };
}

export function deleteDeps(s: Services): DeleteDeps {
  return graphStepDeps(s);
}

/** Recording a batch's completion event and queueing its delivery; the caller adds the store its summary is read from. */
export function webhookNotifyDeps(s: Services): Omit<NotifyDeps, "store"> {
  return { notifications: s.webhooks.notifications, queue: s.webhooks.queue, log: s.log };
}

export function deliverDeps(s: Services): DeliverDeps {
  return { ...s.webhooks, retryScheduleMs: s.config.webhooks.retryScheduleMs, log: s.log };
}

export function poisonDeps(s: Services): PoisonDeps {
  return {
    store: s.store,
    log: s.log,
    queue: s.queue,
    pollRestartDelayMs: s.config.followUp.maxDelayMs,
    failDeregistration: (message: DeviceMessageOf<"deregister">, dequeueCount: number | undefined) =>
      failPoisonedDeregistration(deregisterDeps(s), message, dequeueCount),
  };
}
