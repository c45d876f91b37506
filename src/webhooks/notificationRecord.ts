import { randomUUID } from "node:crypto";
import { callbackHost } from "../model/callbackUrl.js";

/**
 * A batch's webhook event and its delivery attempts, kept as one JSON column (`notification`) of
 * the batch's `webhook` row (notificationStore.ts) and changed only by ETag-conditional writes. Pure: building, reading and
 * showing the record; I/O is in notificationStore.ts and the steps that use it.
 */
export const WEBHOOK_EVENT_TYPE = "import.completed" as const;

export type NotificationState = "pending" | "delivered" | "failed";

export interface DeliveryAttempt {
  /** 1-based. */
  attempt: number;
  at: string;
  /** The receiver's HTTP status, when it answered. */
  status?: number;
  /** Why the attempt failed without an answer: timeout, connection error code, refused address. */
  error?: string;
  durationMs?: number;
}

export interface NotificationRecord {
  eventId: string;
  /** The batch's completedAt this event reports; a later final status (after a retry) is a new event. */
  finalAt: string;
  /** The batch status the event reports. */
  status: string;
  createdAt: string;
  /** The event exactly as POSTed, so every attempt sends the same bytes. */
  body: string;
  state: NotificationState;
  attempts: DeliveryAttempt[];
  /** The attempt a queue message has claimed, and which message (a crashed host's message resumes it). */
  inFlight?: number;
  claimedBy?: string;
  nextAttemptAt?: string;
  /** Why delivery stopped, once failed. */
  reason?: string;
  /** How many earlier events this batch had (final again after a retry). */
  earlierEvents?: number;
}

export function newEventId(): string {
  return `evt_${randomUUID().replace(/-/g, "")}`;
}

/** The event body: the batch's public status view, which never holds a hash, product key or UPN. */
export function eventBody(eventTimestamp: string, batchView: object, type: string = WEBHOOK_EVENT_TYPE): string {
  return JSON.stringify({ type, timestamp: eventTimestamp, data: batchView });
}

export function readNotification(column: unknown): NotificationRecord | undefined {
  if (typeof column !== "string" || column === "") return undefined;
  try {
    return JSON.parse(column) as NotificationRecord;
  } catch {
    return undefined;
  }
}

export function writeNotification(record: NotificationRecord): string {
  return JSON.stringify(record);
}

export interface NotificationView {
  /** Host (and port) of the callback URL only: paths and query strings may hold the receiver's secrets. */
  callbackHost: string;
  eventId?: string;
  eventType?: typeof WEBHOOK_EVENT_TYPE;
  state?: NotificationState;
  attempts?: DeliveryAttempt[];
  nextAttemptAt?: string;
  reason?: string;
}

/** What GET /api/imports/{id} shows: undefined for a batch without a callback. */
export function toNotificationView(callbackUrl: string | undefined, record: NotificationRecord | undefined): NotificationView | undefined {
  if (!callbackUrl) return undefined;
  if (!record) return { callbackHost: callbackHost(callbackUrl) };
  return {
    callbackHost: callbackHost(callbackUrl),
    eventId: record.eventId,
    eventType: WEBHOOK_EVENT_TYPE,
    state: record.state,
    attempts: record.attempts,
    ...(record.state === "pending" && record.nextAttemptAt ? { nextAttemptAt: record.nextAttemptAt } : {}),
    ...(record.reason ? { reason: record.reason } : {}),
  };
}
