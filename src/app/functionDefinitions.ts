import { handleDeregistrationPost } from "../deregistration/deregistrationIntake.js";
import { getDeregistration, listDeregistrationDevices, listDeregistrations } from "../deregistration/deregistrationStatus.js";
import { serveDashboardAsset, serveDashboardPage } from "../dashboard/serveDashboard.js";
import { handleImportPost } from "../intake/handleImportPost.js";
import { sweepIntake } from "../intake/sweepIntake.js";
import { fanOutBatch } from "../intake/fanOutBatch.js";
import { decodeFanOutMessage } from "../intake/fanOutMessage.js";
import { getBatchStatus, listBatchDevices } from "../status/statusHandlers.js";
import { cancelBatch } from "../batches/cancelBatch.js";
import { eraseBatchRequest, eraseDueBatches } from "../batches/eraseBatch.js";
import { listBatches } from "../batches/listBatches.js";
import { retryBatch } from "../batches/retryBatch.js";
import { serveOpenApiDocument, serveReferencePage, routePrefixOf } from "./openapi/serveOpenApi.js";
import { prefersCsv } from "../status/deviceCsv.js";
import { exportDevicesCsv } from "../status/exportDevicesCsv.js";
import { decodeSubmitMessage } from "../storage/deviceMessage.js";
import {
  DEVICE_QUEUE,
  FANOUT_QUEUE,
  FOLLOWER_POISON_QUEUE,
  FOLLOWER_QUEUE,
  WEBHOOK_POISON_QUEUE,
  WEBHOOK_QUEUE,
} from "../storage/names.js";
import { processFollower } from "../worker/processFollower.js";
import { drainQueue } from "../storage/drainQueue.js";
import { decodeDeliveryMessage } from "../webhooks/deliveryMessage.js";
import { deliverWebhook } from "../webhooks/deliverWebhook.js";
import type { FunctionDefinition, HttpFunctionDefinition } from "./functionTypes.js";
import {
  batchActionDeps,
  deliverDeps,
  deregistrationPostDeps,
  deregistrationStatusDeps,
  erasureDeps,
  fanOutDeps,
  importPostDeps,
  restartPollsDeps,
  listBatchesDeps,
  statusDeps,
  sweepDeps,
  workerDeps,
} from "./serviceDeps.js";
import { runDeviceMessage } from "./runDeviceMessage.js";
import { drainPoisonQueues } from "./drainPoisonQueues.js";
import { restartStalledPolls } from "../worker/restartStalledPolls.js";

/** How often the webhook deliveries are drained (the timer's schedule says the same). */
const WEBHOOK_DRAIN_PERIOD_MS = 5_000;
/** A timer-drained message that failed this often goes to its poison queue, as host.json's maxDequeueCount does for triggers. */
const TIMER_MAX_DEQUEUE_COUNT = 5;
/** Poison messages stay until handled: a device or event must not stay in limbo. */
const POISON_DRAIN = { maxPerRun: 32 * 20, visibilitySeconds: 300, reportAfterDequeues: 5 };

/** How often a chunk's followers are drained, how many a run takes at most (the next run goes on), and how long one being handled stays invisible. */
const FOLLOWER_DRAIN_PERIOD_MS = 5_000;
const FOLLOWER_DRAIN_MAX_PER_RUN = 32 * 300;
const FOLLOWER_VISIBILITY_SECONDS = 120;

/** How long an interrupted intake is left alone before the sweeper finishes it. */
const SWEEP_GRACE_MS = 2 * 60_000;

/**
 * Every function of the app, written once. functions/index.ts registers these with the Azure
 * Functions host; src/dev/host/devHost.ts serves the same list without it.
 */
export const functionDefinitions: readonly FunctionDefinition[] = [
  {
    kind: "http",
    name: "createImport",
    route: "imports",
    methods: ["POST"],
    access: "partner",
    // While an intake runs, this instance's fan-out keeps one send in flight (sendLimiter.ts, yieldTo):
    // a big batch's fan-out must not make the next batch's 202 wait.
    handle: (s, request, caller) => s.fanOutSends.yieldTo(() => handleImportPost(importPostDeps(s), request, caller)),
  },
  {
    kind: "http",
    name: "listImports",
    route: "imports",
    methods: ["GET"],
    access: "partner",
    handle: (s, request, caller) => listBatches(listBatchesDeps(s), request.url.searchParams, caller),
  },
  {
    kind: "http",
    name: "getImport",
    route: "imports/{id}",
    methods: ["GET"],
    access: "partner",
    handle: (s, request, caller) => getBatchStatus(statusDeps(s), request.params.id ?? "", caller),
  },
  {
    kind: "http",
    name: "listImportDevices",
    route: "imports/{id}/devices",
    methods: ["GET"],
    access: "partner",
    handle: (s, request, caller) =>
      prefersCsv(request.headers.get("accept"))
        ? exportDevicesCsv(statusDeps(s), request.params.id ?? "", request.url.searchParams, caller)
        : listBatchDevices(statusDeps(s), request.params.id ?? "", request.url.searchParams, caller),
  },
  {
    kind: "http",
    name: "retryImport",
    route: "imports/{id}/retry",
    methods: ["POST"],
    access: "partner",
    handle: (s, request, caller) => retryBatch(batchActionDeps(s), request.params.id ?? "", caller),
  },
  {
    kind: "http",
    name: "cancelImport",
    route: "imports/{id}/cancel",
    methods: ["POST"],
    access: "partner",
    handle: (s, request, caller) => cancelBatch(batchActionDeps(s), request.params.id ?? "", caller),
  },
  {
    kind: "http",
    name: "eraseImport",
    route: "imports/{id}",
    methods: ["DELETE"],
    access: "partner",
    handle: (s, request, caller) => eraseBatchRequest(erasureDeps(s), request.params.id ?? "", caller),
  },
  {
    kind: "http",
    name: "createDeregistration",
    route: "deregistrations",
    methods: ["POST"],
    access: "partner",
    handle: (s, request, caller) => s.fanOutSends.yieldTo(() => handleDeregistrationPost(deregistrationPostDeps(s), request, caller)),
  },
  {
    kind: "http",
    name: "listDeregistrations",
    route: "deregistrations",
    methods: ["GET"],
    access: "partner",
    handle: (s, request, caller) => listDeregistrations(deregistrationStatusDeps(s), request.url.searchParams, caller),
  },
  {
    kind: "http",
    name: "getDeregistration",
    route: "deregistrations/{id}",
    methods: ["GET"],
    access: "partner",
    handle: (s, request, caller) => getDeregistration(deregistrationStatusDeps(s), request.params.id ?? "", caller),
  },
  {
    kind: "http",
    name: "listDeregistrationDevices",
    route: "deregistrations/{id}/devices",
    methods: ["GET"],
    access: "partner",
    handle: (s, request, caller) =>
      listDeregistrationDevices(deregistrationStatusDeps(s), request.params.id ?? "", request.url.searchParams, caller),
  },
  {
    kind: "http",
    name: "openApiDocument",
    route: "openapi.json",
    methods: ["GET"],
    access: "anonymous",
    handle: async (_s, request) => serveOpenApiDocument(httpDefinitions(), routePrefixOf(request.url.pathname, "openapi.json")),
  },
  {
    kind: "http",
    name: "apiReference",
    route: "docs",
    methods: ["GET"],
    access: "anonymous",
    handle: async (_s, request) => {
      const prefix = routePrefixOf(request.url.pathname, "docs");
      return serveReferencePage(httpDefinitions(), prefix, `/${prefix ? `${prefix}/` : ""}openapi.json`);
    },
  },
  {
    // The page is public; it calls the partner API with the key the viewer types in.
    kind: "http",
    name: "dashboard",
    route: "dashboard",
    methods: ["GET"],
    access: "anonymous",
    handle: (_s, request) => serveDashboardPage(request),
  },
  {
    kind: "http",
    name: "dashboardAsset",
    route: "dashboard/{asset}",
    methods: ["GET"],
    access: "anonymous",
    handle: (_s, request) => serveDashboardAsset(request.params.asset ?? ""),
  },
  {
    kind: "queue",
    name: "importDevice",
    queueName: DEVICE_QUEUE,
    handle: (s, payload, delivery) => runDeviceMessage(s, payload, delivery),
  },
  {
    // A batch's fan-out (docs/ARCHITECTURE.md, "Intake"): a few messages per batch, each expanded
    // into its range's device messages after the 202. A trigger, not a timer: the batch's first
    // slot is FANOUT_LEAD_MS after its 202, so its first range must be picked up at once.
    kind: "queue",
    name: "fanOutBatch",
    queueName: FANOUT_QUEUE,
    handle: async (s, payload) => {
      await fanOutBatch(fanOutDeps(s), decodeFanOutMessage(payload));
    },
  },
  {
    kind: "timer",
    name: "drainFollowers",
    // A chunk's followers (names.ts, FOLLOWER_QUEUE) are drained by a timer: they come due a
    // minute after their chunks and almost all are dropped at once (their leader took the
    // device), so a trigger's polling every 500 ms on every instance would cost more than they
    // do, and in the device queue they would stand in front of other tenants' work. A follower
    // acts up to 5 s after it is due; it is a safety net, not a schedule.
    schedule: "*/5 * * * * *",
    everyMs: FOLLOWER_DRAIN_PERIOD_MS,
    handle: async (s) => {
      await drainQueue(
        s.storage.queueNamed(FOLLOWER_QUEUE),
        (payload, message) => processFollower(workerDeps(s), decodeSubmitMessage(payload), message, TIMER_MAX_DEQUEUE_COUNT),
        s.log,
        {
          maxPerRun: FOLLOWER_DRAIN_MAX_PER_RUN,
          visibilitySeconds: FOLLOWER_VISIBILITY_SECONDS,
          poison: { queue: s.storage.queueNamed(FOLLOWER_POISON_QUEUE), maxDequeueCount: TIMER_MAX_DEQUEUE_COUNT },
          reportAfterDequeues: TIMER_MAX_DEQUEUE_COUNT,
        },
      );
    },
  },
  {
    kind: "timer",
    name: "deliverWebhooks",
    // Webhook deliveries are drained by a timer, not a queue trigger: a trigger would poll the
    // queue every 500 ms on every instance although a batch has one event, and a slow receiver
    // would hold a worker's slot meant for Graph writes. A delivery leaves up to 5 s late.
    schedule: "*/5 * * * * *",
    everyMs: WEBHOOK_DRAIN_PERIOD_MS,
    handle: async (s) => {
      const deps = deliverDeps(s);
      await drainQueue(
        s.storage.queueNamed(WEBHOOK_QUEUE),
        (payload, message) => deliverWebhook(deps, decodeDeliveryMessage(payload), message.id),
        s.log,
        {
          // A run ends well before the next is due on a healthy receiver; a slow one delays the next run, not Graph writes.
          maxPerRun: 32 * 8,
          // Longer than an attempt can take (WEBHOOK_TIMEOUT_MS plus two table writes).
          visibilitySeconds: Math.ceil(s.config.webhooks.timeoutMs / 1000) + 60,
          poison: { queue: s.storage.queueNamed(WEBHOOK_POISON_QUEUE), maxDequeueCount: TIMER_MAX_DEQUEUE_COUNT },
          reportAfterDequeues: TIMER_MAX_DEQUEUE_COUNT,
        },
      );
    },
  },
  {
    kind: "timer",
    name: "sweepIntake",
    schedule: "0 */1 * * * *",
    everyMs: 60_000,
    handle: async (s) => {
      await sweepIntake(sweepDeps(s, SWEEP_GRACE_MS));
    },
  },
  {
    kind: "timer",
    name: "restartStalledPolls",
    // A running batch whose poll chain went silent (its message vanished) gets its next round
    // again; a chain that was only slow drops the copy (src/worker/restartStalledPolls.ts).
    schedule: "0 */5 * * * *",
    everyMs: 300_000,
    handle: async (s) => {
      await restartStalledPolls(restartPollsDeps(s));
    },
  },
  {
    kind: "timer",
    name: "failPoisonedMessages",
    // The poison queues are drained by a timer, not watched by queue triggers that would poll
    // them every 500 ms on every instance while they are empty (src/storage/drainQueue.ts).
    schedule: "30 */1 * * * *",
    everyMs: 60_000,
    handle: (s) => drainPoisonQueues(s, POISON_DRAIN),
  },
  {
    kind: "timer",
    name: "sweepIdempotencyKeys",
    // Table storage has no TTL: expired Idempotency-Key records are deleted hourly (a late
    // deletion is harmless, an expired record is already treated as absent).
    schedule: "0 17 * * * *",
    everyMs: 3_600_000,
    handle: async (s) => {
      const deleted = await s.idempotency.deleteExpired(Date.now());
      if (deleted > 0) s.log.info("expired Idempotency-Key records deleted", { reason: `${deleted} records` });
    },
  },
  {
    kind: "timer",
    name: "eraseExpiredBatches",
    // BATCH_RETENTION_DAYS after a batch became final, every row of it is erased; a few batches a
    // run, so a run stays short whatever has piled up, and erasures a crash interrupted are finished.
    schedule: "0 */10 * * * *",
    everyMs: 600_000,
    handle: async (s) => {
      await eraseDueBatches(erasureDeps(s));
      // Deregistration batches expire the same way; their list rows are an index of their own.
      await eraseDueBatches({ ...erasureDeps(s), index: s.deregistrations.index });
    },
  },
];

/** The HTTP functions, for the OpenAPI document (read when served, after the list exists). */
function httpDefinitions(): HttpFunctionDefinition[] {
  return functionDefinitions.filter((d): d is HttpFunctionDefinition => d.kind === "http");
}
