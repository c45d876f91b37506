import type { DeviceFields } from "../storage/importEntities.js";

/**
 * Failures a retry can cure: the pipeline or Graph gave up on the device, not Intune or Graph
 * on its data. Everything else is left alone: Intune's import errors (806 already registered,
 * 808 another tenant's, 802 bad hash, …) and Graph's 4xx answers would fail the same way again.
 *
 * - RetriesExhausted: transient failures (5xx, timeouts, dropped connections) ran out of attempts.
 * - ProcessingFailed: the device's message went to the poison queue (storage or a bug, not the device).
 * - ImportTimedOut: Intune had not finished in time; its record is looked at again.
 * - ImportRecordMissing: the imported record was deleted before it settled; it is created again.
 */
export const RETRYABLE_ERROR_CODES = ["RetriesExhausted", "ProcessingFailed", "ImportTimedOut", "ImportRecordMissing"] as const;

const retryable: ReadonlySet<string> = new Set(RETRYABLE_ERROR_CODES);

export function isRetryable(device: Pick<DeviceFields, "state" | "errorCode">): boolean {
  return device.state === "failed" && device.errorCode !== undefined && retryable.has(device.errorCode);
}

/**
 * Whether the retried attempt must first look for a record of an earlier create. Every retryable
 * failure may hide one (a lost answer, a poisoned attempt, a timed-out import that still exists),
 * except a record known to be gone; looking costs a listing, creating twice costs a duplicate.
 */
export function mayHaveRecord(device: Pick<DeviceFields, "errorCode">): boolean {
  return device.errorCode !== "ImportRecordMissing";
}
