import type { Logger } from "../telemetry/logging.js";
import type { ImportStore } from "../storage/importStore.js";
import { toBatchView } from "./statusViews.js";
import type { DeliveryMessageSender } from "../webhooks/deliveryMessage.js";
import { eventBody, newEventId, WEBHOOK_EVENT_TYPE, type NotificationRecord } from "../webhooks/notificationRecord.js";
import type { NotificationStore } from "../webhooks/notificationStore.js";

export interface NotifyDeps {
  store: Pick<ImportStore, "readSummary">;
  notifications: Pick<NotificationStore, "read" | "write">;
  queue: DeliveryMessageSender;
  log: Logger;
  now?: () => Date;
}

export type NotifyOutcome = "no-callback" | "running" | "recorded" | "already-recorded" | "missing";

const WRITE_TRIES = 8;

/**
 * Called whenever a batch may have reached its final status (the poll chain's last round, and
 * again on every duplicate of it). Records one event per final status in the batch's webhook row (an
 * ETag-conditional write, so of two callers only one creates it), then queues its first
 * delivery. The final status is identified by the batch's completedAt: a batch final again after
 * a retry has a later one, so it gets a new event.
 */
export async function notifyIfFinal(deps: NotifyDeps, batchId: string): Promise<NotifyOutcome> {
  return recordFinalEvent(deps, batchId, async () => {
    const summary = await deps.store.readSummary(batchId);
    if (!summary) return undefined;
    const { notification: _shown, ...view } = toBatchView(summary) as ReturnType<typeof toBatchView> & { notification?: unknown };
    return { view, type: WEBHOOK_EVENT_TYPE };
  });
}

/** What a final batch's event reports: its public view (status and completedAt read from it) and the event's type. */
export interface FinalView {
  view: { status: string; completedAt?: string | undefined };
  type: string;
}

/**
 * notifyIfFinal for any kind of batch whose header carries a callbackUrl in the `imports` table
 * (an import batch, a deregistration batch): `readView` reads the batch's public view.
 */
export async function recordFinalEvent(
  deps: Omit<NotifyDeps, "store">,
  batchId: string,
  readView: () => Promise<FinalView | undefined>,
): Promise<NotifyOutcome> {
  for (let tries = 0; tries < WRITE_TRIES; tries++) {
    const header = await deps.notifications.read(batchId);
    if (!header) return "missing";
    if (!header.callbackUrl) return "no-callback";
    const final = await readView();
    if (!final) return "missing";
    const { view, type } = final;
    if (view.status === "running" || !view.completedAt) return "running";

    const existing = header.notification;
    if (existing && existing.finalAt === view.completedAt) {
      // A copy of the finishing message, or the same one after a crash between recording the
      // event and queueing it: queue the first attempt again; its claim lets only one copy POST.
      if (existing.state === "pending" && existing.attempts.length === 0 && existing.inFlight === undefined) {
        await deps.queue.send({ v: 1, kind: "deliverWebhook", batchId, eventId: existing.eventId, attempt: 1 });
      }
      return "already-recorded";
    }

    const now = (deps.now?.() ?? new Date()).toISOString();
    const record: NotificationRecord = {
      eventId: newEventId(),
      finalAt: view.completedAt,
      status: view.status,
      createdAt: now,
      body: eventBody(now, view, type),
      state: "pending",
      attempts: [],
      ...(existing ? { earlierEvents: (existing.earlierEvents ?? 0) + 1 } : {}),
    };
    if (!(await deps.notifications.write(header, record))) continue;
    await deps.queue.send({ v: 1, kind: "deliverWebhook", batchId, eventId: record.eventId, attempt: 1 });
    deps.log.info("webhook event recorded", { batchId, state: view.status, ...(header.partnerId ? { partnerId: header.partnerId } : {}) });
    return "recorded";
  }
  throw new Error(`batch ${batchId} webhook row kept changing while its webhook event was recorded`);
}
