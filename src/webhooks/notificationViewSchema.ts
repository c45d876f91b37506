import { z } from "zod";
import { WEBHOOK_EVENT_TYPE, type NotificationView } from "./notificationRecord.js";

/** The `notification` of GET /api/imports/{id}, for the OpenAPI document (src/status/viewSchemas.ts). */
export const deliveryAttemptSchema = z
  .object({
    attempt: z.number().int().min(1),
    at: z.iso.datetime().describe("When the attempt started."),
    status: z.number().int().optional().describe("The receiver's HTTP status, when it answered."),
    error: z.string().optional().describe("Why the attempt failed without an answer: timeout, connection error, refused address."),
    durationMs: z.number().int().min(0).optional(),
  })
  .describe("One delivery attempt of the batch's webhook event.");

export const notificationStateSchema = z
  .enum(["pending", "delivered", "failed"])
  .describe("pending until delivered (a 2xx) or failed (retries spent, 410 Gone, or a refused address).");

export const notificationViewSchema = z
  .object({
    callbackHost: z.string().describe("The callbackUrl's host (and port) only: its path and query are never shown."),
    eventId: z.string().optional().describe("The event's webhook-id, the same on every attempt; present once the batch is final."),
    eventType: z.literal(WEBHOOK_EVENT_TYPE).optional(),
    state: notificationStateSchema.optional(),
    attempts: z.array(deliveryAttemptSchema).optional(),
    nextAttemptAt: z.iso.datetime().optional().describe("While pending: when the next attempt is due."),
    reason: z.string().optional().describe("Once failed: why delivery stopped."),
  })
  .describe("The batch's completion webhook (only for a batch submitted with a callbackUrl).");

// The handler's type and the documented one are the same shape.
export type NotificationViewFromSchema = z.infer<typeof notificationViewSchema>;
const _sameShape: (view: NotificationView) => NotificationViewFromSchema = (view) => view;
void _sameShape;
