import { consoleSink, structuredLogger, type Logger } from "./logging.js";
import { otelLogSink, telemetryState } from "./telemetry.js";

/**
 * The logger the app's services use: each record as one JSON line on the console and, with
 * telemetry on, through the OpenTelemetry logs API with its fields as attributes. Under the
 * Functions host with telemetry on the console is left out (`console: false`), so Application
 * Insights does not get every line twice, once structured and once as the host's copy.
 */
export function appLogger(options: { console?: boolean } = {}): Logger {
  const toConsole = options.console ?? true;
  return structuredLogger(...(toConsole ? [consoleSink] : []), (record) => {
    if (telemetryState().enabled) otelLogSink(record);
  });
}
