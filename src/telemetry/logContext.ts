import { AsyncLocalStorage } from "node:async_hooks";
import type { LogFields } from "./logFields.js";

/**
 * The batch, device and tenant a piece of work is about, so every log line written while it
 * runs carries them, even from code that does not know them (the queue pump, storage helpers).
 */
export type LogContext = Pick<LogFields, "batchId" | "rowKey" | "tenantId">;

const storage = new AsyncLocalStorage<LogContext>();

export function withLogContext<T>(context: LogContext, work: () => T): T {
  return storage.run({ ...storage.getStore(), ...context }, work);
}

export function currentLogContext(): LogContext | undefined {
  return storage.getStore();
}

/**
 * What a queue message says about itself: its batch and device (a syncTenant message's
 * batchId is its tenant). Anything else in the payload is ignored.
 */
export function logContextOfMessage(payload: unknown): LogContext {
  if (typeof payload !== "object" || payload === null) return {};
  const { kind, batchId, rowKey, tenantId } = payload as Record<string, unknown>;
  const text = (value: unknown) => (typeof value === "string" && value.length <= 128 ? value : undefined);
  if (kind === "syncTenant") return text(batchId) ? { tenantId: text(batchId)! } : {};
  return {
    ...(text(batchId) ? { batchId: text(batchId)! } : {}),
    ...(text(rowKey) ? { rowKey: text(rowKey)! } : {}),
    ...(text(tenantId) ? { tenantId: text(tenantId)! } : {}),
  };
}
