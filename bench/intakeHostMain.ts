/**
 * The development host in a process of its own, for bench/intakeRun.ts: its peak RSS is the host's
 * alone (read from /proc by the bench), not the bench's, which builds the request bodies. Settings
 * come from the environment through loadConfig; warnings and errors go to stderr, nothing else.
 * Prints one JSON line `{"api": "..."}` on stdout once it serves.
 */
import { createServices } from "../src/app/services.js";
import { loadConfig } from "../src/config/config.js";
import { startDevHost } from "../src/dev/host/devHost.js";
import type { Logger } from "../src/telemetry/logging.js";
import type { LogFields } from "../src/telemetry/logFields.js";

const line = (level: string) => (message: string, fields?: LogFields) =>
  process.stderr.write(`${new Date().toISOString()} ${level} ${message}${fields ? " " + JSON.stringify(fields) : ""}\n`);
const log: Logger = { info: () => {}, warn: line("warn"), error: line("error") };

const services = await createServices(loadConfig(process.env), log);
const host = await startDevHost({ services });
process.stdout.write(JSON.stringify({ api: `${host.url}/${host.hostSettings.routePrefix}` }) + "\n");

process.on("SIGTERM", () => {
  host.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
