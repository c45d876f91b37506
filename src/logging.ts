/**
 * The only fields a log line may carry. Hashes, product keys, UPNs and tokens have no field
 * here, so they cannot be logged by accident through this interface.
 */
export interface LogFields {
  batchId?: string;
  rowKey?: string;
  tenantId?: string;
  state?: string;
  attempt?: number;
  status?: number;
  errorCode?: string;
  delayMs?: number;
  deviceCount?: number;
  messageId?: string;
  reason?: string;
}

export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };

export function consoleLogger(prefix = ""): Logger {
  const line = (level: string, message: string, fields?: LogFields) =>
    `${new Date().toISOString()} ${level} ${prefix}${message}${fields ? " " + JSON.stringify(fields) : ""}`;
  return {
    info: (m, f) => console.log(line("info", m, f)),
    warn: (m, f) => console.warn(line("warn", m, f)),
    error: (m, f) => console.error(line("error", m, f)),
  };
}
