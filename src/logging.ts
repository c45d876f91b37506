import { currentLogContext } from "./telemetry/logContext.js";
import { redactSecrets } from "./telemetry/redact.js";

/**
 * The only fields a log line may carry. Hashes, product keys, UPNs and tokens have no field
 * here, so they cannot be logged by accident through this interface.
 */
export interface LogFields {
  batchId?: string;
  rowKey?: string;
  tenantId?: string;
  partnerId?: string;
  state?: string;
  attempt?: number;
  status?: number;
  errorCode?: string;
  delayMs?: number;
  /** How long a device's invocation waited in-process for its write slot. */
  slotWaitMs?: number;
  /** How long an invocation held back sending a message so it becomes visible early enough before its slot. */
  sendHoldMs?: number;
  /** How long after its write slot a device's create left. */
  lateMs?: number;
  deviceCount?: number;
  messageId?: string;
  /** The Graph call behind the line: Graph's request-id and our client-request-id, for a support case. */
  graphRequestId?: string;
  graphClientRequestId?: string;
  /** How the device's record was found: created by this attempt, or found after a lost answer (ours, or matched by serial number). */
  recordFoundBy?: string;
  reason?: string;
  /** The registered Autopilot device an onExisting update changed, or a followed device's. */
  autopilotDeviceId?: string;
}

export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };

export type LogLevel = "info" | "warn" | "error";

/** One log line: when, how bad, what, and the fields (batch, device and tenant wherever known). */
export interface LogRecord extends LogFields {
  time: string;
  level: LogLevel;
  message: string;
}

/**
 * Builds the record for a log call: the fields of the work in progress (see logContext.ts) under
 * the call's own, and every string passed through redactSecrets, so an error message that
 * happens to quote a token or a hash never reaches a sink.
 */
export function logRecord(level: LogLevel, message: string, fields?: LogFields, now: Date = new Date()): LogRecord {
  const merged: LogFields = { ...currentLogContext(), ...fields };
  const record: LogRecord = { time: now.toISOString(), level, message: redactSecrets(message) };
  for (const [key, value] of Object.entries(merged) as [keyof LogFields, unknown][]) {
    if (value === undefined) continue;
    (record as unknown as Record<string, unknown>)[key] = typeof value === "string" ? redactSecrets(value) : value;
  }
  return record;
}

/** A logger that hands each record, built by logRecord, to every sink. */
export function structuredLogger(...sinks: ((record: LogRecord) => void)[]): Logger {
  const emit = (level: LogLevel) => (message: string, fields?: LogFields) => {
    const record = logRecord(level, message, fields);
    for (const sink of sinks) sink(record);
  };
  return { info: emit("info"), warn: emit("warn"), error: emit("error") };
}

/** One JSON object per line on the console, so log collectors need no parsing rules. */
export function consoleSink(record: LogRecord): void {
  const line = JSON.stringify(record);
  if (record.level === "error") console.error(line);
  else if (record.level === "warn") console.warn(line);
  else console.log(line);
}

export function consoleLogger(): Logger {
  return structuredLogger(consoleSink);
}
