import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { functionDefinitions as allDefinitions } from "../../app/functionDefinitions.js";
import { runHttpFunction } from "../../app/runHttpFunction.js";
import type { FunctionDefinition } from "../../app/functionTypes.js";
import type { Services } from "../../app/services.js";
import { compileRoute, matchRoute, routeProblem, toAppRequest, writeResponse } from "./httpAdapter.js";
import { loadHostSettings, type HostSettings } from "./hostSettings.js";
import { QueuePump } from "./queuePump.js";
import { runQueueMessage } from "../../telemetry/queueMessage.js";
import { errorMessage } from "../../model/errorMessage.js";

export interface DevHostOptions {
  services: Services;
  port?: number;
  host?: string;
  definitions?: readonly FunctionDefinition[];
  hostSettings?: HostSettings;
  /** Run timer functions on their period: all (default), none, or the ones named. */
  timers?: boolean | readonly string[];
  /**
   * Timer periods divided by this: the bench's time scale, as it divides every other delay of the
   * pipeline (its budget window, host.json's visibility timeout). Unscaled, the follower drain's
   * 5 s came to 25 s at real scale in the storm bench, all of it on a lost leader's rescue.
   */
  timerPeriodDivisor?: number;
}

export interface DevHost {
  url: string;
  hostSettings: HostSettings;
  stop(): Promise<void>;
}

/**
 * Runs the app's function definitions without the Azure Functions host: HTTP functions on a
 * node:http server under host.json's route prefix, queue functions through QueuePump with
 * host.json's queue semantics, timer functions on an interval.
 */
export async function startDevHost(options: DevHostOptions): Promise<DevHost> {
  const { services } = options;
  const definitions = options.definitions ?? allDefinitions;
  const hostSettings = options.hostSettings ?? loadHostSettings();
  const provider = () => Promise.resolve(services);

  const routes = definitions.flatMap((d) => (d.kind === "http" ? [compileRoute(hostSettings.routePrefix, d)] : []));
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const match = matchRoute(routes, req.method ?? "GET", url.pathname);
    if (match.kind !== "match") {
      writeResponse(req, res, routeProblem(match, url.pathname));
      return;
    }
    runHttpFunction(match.route.definition, provider, toAppRequest(req, match.params)).then(
      (response) => writeResponse(req, res, response),
      () => res.destroy(),
    );
  });

  const pumps = definitions.flatMap((d) =>
    d.kind === "queue"
      ? [
          new QueuePump({
            queue: services.storage.queueNamed(d.queueName),
            receiveQueue: services.storage.pollingQueueNamed(d.queueName),
            poisonQueue: services.storage.queueNamed(`${d.queueName}-poison`),
            settings: hostSettings.queues,
            processingTimeoutMs: hostSettings.functionTimeoutMs,
            handle: (payload, delivery) => runQueueMessage(payload, () => d.handle(services, payload, delivery)),
            log: services.log,
          }),
        ]
      : [],
  );
  await Promise.all(
    definitions.flatMap((d) => (d.kind === "queue" ? [services.storage.queueNamed(`${d.queueName}-poison`).createIfNotExists()] : [])),
  );

  const runsTimer = (name: string) => (Array.isArray(options.timers) ? options.timers.includes(name) : (options.timers ?? true));
  const timers = definitions.flatMap((d) => {
    if (d.kind !== "timer" || !runsTimer(d.name)) return [];
    // Like the Functions host, a run that outlasts the period delays the next one instead of overlapping it.
    let running = false;
    return [
      setInterval(
        () => {
          if (running) return;
          running = true;
          d.handle(services)
            .catch((error) => services.log.error(`timer ${d.name} failed`, { reason: errorMessage(error) }))
            .finally(() => (running = false));
        },
        d.everyMs / (options.timerPeriodDivisor ?? 1),
      ),
    ];
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", resolve);
  });
  pumps.forEach((pump) => pump.start());
  const address = server.address() as AddressInfo;

  return {
    url: `http://${address.address}:${address.port}`,
    hostSettings,
    async stop() {
      timers.forEach(clearInterval);
      await Promise.all(pumps.map((pump) => pump.stop()));
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
