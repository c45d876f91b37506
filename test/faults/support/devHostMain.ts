/**
 * A development host in a process of its own, for fault tests that kill it. Settings come from
 * the environment through the app's own loadConfig (so it is configured like any host), and
 * host.json's values can be overridden by a JSON argument, as tests shorten visibility timeouts.
 * Prints one JSON line `{"api": "..."}` on stdout once it serves; logs go to stderr.
 */
import { createServices } from "../../../src/app/services.js";
import { loadConfig } from "../../../src/config/config.js";
import { startDevHost } from "../../../src/dev/host/devHost.js";
import { loadHostSettings, type HostSettings } from "../../../src/dev/host/hostSettings.js";
import type { Logger } from "../../../src/telemetry/logging.js";
import type { LogFields } from "../../../src/telemetry/logFields.js";

const override = JSON.parse(process.argv[3] ?? "{}") as Partial<Omit<HostSettings, "queues">> & {
  queues?: Partial<HostSettings["queues"]>;
};
const base = loadHostSettings();
const hostSettings: HostSettings = { ...base, ...override, queues: { ...base.queues, ...override.queues } };

const line = (level: string) => (message: string, fields?: LogFields) =>
  process.stderr.write(`${new Date().toISOString()} ${level} [${process.pid}] ${message}${fields ? " " + JSON.stringify(fields) : ""}\n`);
const log: Logger = { info: line("info"), warn: line("warn"), error: line("error") };

const services = await createServices(loadConfig(process.env), log);
const host = await startDevHost({ services, hostSettings, timers: false });
process.stdout.write(JSON.stringify({ api: `${host.url}/${hostSettings.routePrefix}` }) + "\n");

process.on("SIGTERM", () => {
  host.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
