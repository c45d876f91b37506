import type { Logger } from "../telemetry/logging.js";
import type { DeliveryMessage, DeliveryMessageSender } from "./deliveryMessage.js";
import type { DeliveryAttempt, NotificationRecord } from "./notificationRecord.js";
import type { BatchNotificationHeader, NotificationStore } from "./notificationStore.js";
import { decideAfterAttempt, type AttemptDecision, type AttemptResult } from "../model/retrySchedule.js";
import { webhookHeaders } from "../model/webhookSigning.js";
import type { WebhookPoster } from "./webhookClient.js";

/** Where a partner's webhook signing secrets come from (the partner store; a stub in unit tests). */
export interface WebhookSecrets {
  /** The partner's `whsec_…` secrets to sign with now (the current one first; two during a rotation); empty when it has none. */
  secretsFor(partnerId: string): Promise<readonly string[]>;
}

export interface DeliverDeps {
  notifications: Pick<NotificationStore, "read" | "write">;
  queue: DeliveryMessageSender;
  secrets: WebhookSecrets;
  post: WebhookPoster;
  retryScheduleMs: readonly number[];
  log: Logger;
  now?: () => Date;
}

export type DeliverOutcome = "stale" | "delivered" | "retrying" | "failed" | "resumed";

const WRITE_TRIES = 8;

/**
 * One delivery attempt of a batch's webhook event. The attempt is claimed on the event row first
 * (ETag-conditional), so of two copies of a message only one POSTs; a host that dies mid-attempt
 * leaves the claim to its own redelivered message (same queue message id), which POSTs again:
 * receivers de-duplicate on webhook-id, which is the same on every attempt. The outcome is
 * recorded, then the next attempt is queued with the schedule's delay.
 */
export async function deliverWebhook(deps: DeliverDeps, message: DeliveryMessage, deliveryId: string): Promise<DeliverOutcome> {
  const claim = await claimAttempt(deps, message, deliveryId);
  if (claim.kind === "stale") return "stale";
  if (claim.kind === "resume-next") {
    const delayMs = Math.max(0, Date.parse(claim.record.nextAttemptAt ?? "") - clock(deps).getTime()) || 0;
    await deps.queue.send({ ...message, attempt: message.attempt + 1 }, delayMs);
    return "resumed";
  }

  const { header, record } = claim;
  const started = clock(deps);
  const result = await attempt(deps, header, record);
  const decision = decideAfterAttempt(message.attempt, result, deps.retryScheduleMs);
  const finished = clock(deps);
  const entry: DeliveryAttempt = {
    attempt: message.attempt,
    at: started.toISOString(),
    ...(result.kind === "response" ? { status: result.status } : { error: describe(result) }),
    durationMs: finished.getTime() - started.getTime(),
  };
  const recorded = await recordAttempt(deps, message, deliveryId, entry, decision, finished);
  if (!recorded) return "stale";

  const fields = { batchId: message.batchId, attempt: message.attempt, ...(header.partnerId ? { partnerId: header.partnerId } : {}) };
  if (decision.kind === "retry") {
    await deps.queue.send({ ...message, attempt: message.attempt + 1 }, decision.delayMs);
    deps.log.warn("webhook delivery failed; will retry", {
      ...fields,
      ...(entry.status ? { status: entry.status } : { reason: entry.error }),
      delayMs: decision.delayMs,
    });
    return "retrying";
  }
  if (decision.kind === "delivered") {
    deps.log.info("webhook delivered", { ...fields, ...(entry.status ? { status: entry.status } : {}) });
    return "delivered";
  }
  deps.log.error("webhook delivery given up", { ...fields, reason: decision.reason });
  return "failed";
}

type Claim =
  | { kind: "stale" }
  | { kind: "resume-next"; record: NotificationRecord }
  | { kind: "claimed"; header: BatchNotificationHeader & { callbackUrl: string }; record: NotificationRecord };

async function claimAttempt(deps: DeliverDeps, message: DeliveryMessage, deliveryId: string): Promise<Claim> {
  for (let tries = 0; tries < WRITE_TRIES; tries++) {
    const header = await deps.notifications.read(message.batchId);
    const record = header?.notification;
    if (!header?.callbackUrl || !record || record.eventId !== message.eventId) return { kind: "stale" };
    const made = record.attempts.length;
    if (made >= message.attempt) {
      // This attempt is recorded. If this very message recorded it and its host died before
      // queueing the next, queue it now.
      const ours = made === message.attempt && record.claimedBy === deliveryId && record.state === "pending";
      return ours ? { kind: "resume-next", record } : { kind: "stale" };
    }
    if (record.state !== "pending" || made !== message.attempt - 1) return { kind: "stale" };
    const target = { ...header, callbackUrl: header.callbackUrl };
    if (record.inFlight === message.attempt) {
      return record.claimedBy === deliveryId ? { kind: "claimed", header: target, record } : { kind: "stale" };
    }
    const claimed: NotificationRecord = { ...record, inFlight: message.attempt, claimedBy: deliveryId };
    if (await deps.notifications.write(header, claimed)) return { kind: "claimed", header: target, record: claimed };
  }
  throw new Error(`batch ${message.batchId} webhook row kept changing while a webhook attempt was claimed`);
}

async function attempt(
  deps: DeliverDeps,
  header: BatchNotificationHeader & { callbackUrl: string },
  record: NotificationRecord,
): Promise<AttemptResult> {
  const secrets = header.partnerId ? await deps.secrets.secretsFor(header.partnerId) : [];
  if (secrets.length === 0) return { kind: "refused", reason: "the batch's partner has no webhook signing secret" };
  const timestamp = Math.floor(clock(deps).getTime() / 1000);
  return deps.post(header.callbackUrl, webhookHeaders(secrets, record.eventId, timestamp, record.body), record.body);
}

async function recordAttempt(
  deps: DeliverDeps,
  message: DeliveryMessage,
  deliveryId: string,
  entry: DeliveryAttempt,
  decision: AttemptDecision,
  at: Date,
): Promise<boolean> {
  for (let tries = 0; tries < WRITE_TRIES; tries++) {
    const header = await deps.notifications.read(message.batchId);
    const record = header?.notification;
    // Someone else's claim, or a newer event: this attempt's result no longer belongs anywhere.
    if (!header || !record || record.eventId !== message.eventId || record.inFlight !== message.attempt || record.claimedBy !== deliveryId)
      return false;
    const { inFlight: _done, nextAttemptAt: _next, ...rest } = record;
    const next: NotificationRecord = {
      ...rest,
      attempts: [...record.attempts, entry],
      state: decision.kind === "retry" ? "pending" : decision.kind === "delivered" ? "delivered" : "failed",
      ...(decision.kind === "retry" ? { nextAttemptAt: new Date(at.getTime() + decision.delayMs).toISOString() } : {}),
      ...(decision.kind === "give-up" ? { reason: decision.reason } : {}),
    };
    if (await deps.notifications.write(header, next)) return true;
  }
  throw new Error(`batch ${message.batchId} webhook row kept changing while a webhook attempt was recorded`);
}

function describe(result: Exclude<AttemptResult, { kind: "response" }>): string {
  switch (result.kind) {
    case "timeout":
      return "timeout";
    case "connection-error":
      return `connection error (${result.message})`;
    case "refused":
      return `refused: ${result.reason}`;
  }
}

function clock(deps: DeliverDeps): Date {
  return deps.now ? deps.now() : new Date();
}
