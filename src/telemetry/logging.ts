import { currentLogContext } from "./logContext.js";
import type { LogFields } from "./logFields.js";
import { redactSecrets } from "./redact.js";

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
