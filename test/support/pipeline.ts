import { createServices, type Services } from "../../src/app/services.js";
import type { FunctionDefinition } from "../../src/app/functionTypes.js";
import { loadConfig } from "../../src/config/config.js";
import { startGraphSimulator, type GraphSimulator, type SimulatorOptions } from "../../src/dev/simulator/index.js";
import { startAzurite, type RunningAzurite } from "../../src/dev/host/azurite.js";
import { startDevHost, type DevHost } from "../../src/dev/host/devHost.js";
import type { Logger } from "../../src/telemetry/logging.js";
import { addTestPartner, type TestPartner } from "./partners.js";
import type { LogFields } from "../../src/telemetry/logFields.js";

export const TENANT_A = "aaaaaaaa-0000-4000-8000-000000000001";
export const TENANT_B = "bbbbbbbb-0000-4000-8000-000000000002";
/** Every tenant the tests import into; the pipeline's default partner may import into each. */
export const TEST_TENANTS = [TENANT_A, TENANT_B, "contoso.onmicrosoft.com"] as const;

/** Where the API is and how to authenticate to it: a Pipeline is one. */
export interface ApiTarget {
  api: string;
  headers: Record<string, string>;
}

export interface CapturedLog {
  level: string;
  message: string;
  fields?: LogFields;
}

export interface Pipeline {
  /** The API root, e.g. http://127.0.0.1:1234/api */
  api: string;
  services: Services;
  simulator: GraphSimulator;
  azurite: RunningAzurite;
  host: DevHost;
  logs: CapturedLog[];
  /** The default partner, allowed for TEST_TENANTS. */
  partner: TestPartner;
  /** Its credentials: spread into every request's headers. */
  headers: Record<string, string>;
  stop(): Promise<void>;
}

export interface PipelineOptions {
  simulator?: SimulatorOptions;
  env?: Record<string, string>;
  definitions?: readonly FunctionDefinition[];
  /** Reuse a running Azurite (and leave it running) instead of starting one. */
  azurite?: RunningAzurite;
  /** A logger the services write to as well as the captured `logs` (e.g. the app's own). */
  log?: Logger;
  /** The timer functions to run (none by default: tests drive the sweeper and poison drain themselves). */
  timers?: readonly string[];
}

/**
 * The real pipeline on this machine: Azurite, the Graph simulator and the development host.
 * Retry and follow-up delays are shortened to the queue's one-second granularity so a test
 * sees many attempts in a few seconds.
 */
export async function startPipeline(options: PipelineOptions = {}): Promise<Pipeline> {
  const azurite = options.azurite ?? (await startAzurite());
  // Intune as observed, on a faster clock: imports settle in 200 ms instead of 60-95 s, and lists
  // lag creates by 100 ms instead of a few seconds (still less than an import takes, as there).
  const simulator = await startGraphSimulator({ settleDelayMs: 200, listLagMs: 100, ...options.simulator });
  const logs: CapturedLog[] = [];
  const capture = (level: string) => (message: string, fields?: LogFields) =>
    void logs.push({ level, message, ...(fields ? { fields } : {}) });
  const log: Logger = { info: capture("info"), warn: capture("warn"), error: capture("error") };
  const config = loadConfig({
    AzureWebJobsStorage: azurite.connectionString,
    GRAPH_BASE_URL: simulator.url,
    GRAPH_CREDENTIAL: "simulator",
    DEFAULT_TENANT_ID: TENANT_A,
    RETRY_BASE_DELAY_MS: "1000",
    RETRY_MAX_DELAY_MS: "2000",
    FOLLOW_UP_FIRST_DELAY_MS: "1000",
    FOLLOW_UP_MAX_DELAY_MS: "2000",
    // Ten times the simulator's list lag, as the default is to Intune's few seconds.
    GRAPH_LIST_GRACE_MS: "1000",
    STATUS_RETRY_AFTER_SECONDS: "1",
    // Pacing far above the simulator's default budget, so tests are not slowed by it; tests of pacing set their own.
    PACING_WINDOW_MS: "2000",
    PACING_WRITES_PER_WINDOW: "1000",
    // Storage retries within 8 s: a test that takes storage away fails its steps as soon as before.
    STORAGE_RETRY_SPAN_MS: "8000",
    // Tests post batches back to back; the rate limit's own test sets a small one.
    INTAKE_RATE_PER_MINUTE: "6000",
    INTAKE_RATE_BURST: "1000",
    ...options.env,
  });
  const also = options.log;
  const services = await createServices(
    config,
    also
      ? {
          info: (m, f) => (log.info(m, f), also.info(m, f)),
          warn: (m, f) => (log.warn(m, f), also.warn(m, f)),
          error: (m, f) => (log.error(m, f), also.error(m, f)),
        }
      : log,
  );
  const host = await startDevHost({
    services,
    timers: options.timers ?? false,
    ...(options.definitions ? { definitions: options.definitions } : {}),
  });
  const partner = await addTestPartner(services, { tenants: TEST_TENANTS });
  return {
    api: `${host.url}/${host.hostSettings.routePrefix}`,
    services,
    simulator,
    azurite,
    host,
    logs,
    partner,
    headers: partner.headers,
    async stop() {
      await host.stop();
      await simulator.stop();
      if (!options.azurite) await azurite.stop();
    },
  };
}

export interface BatchStatusBody {
  id: string;
  status: string;
  deviceCount: number;
  counts: Record<string, number>;
  [key: string]: unknown;
}

/**
 * Polls the status endpoint, as a partner would, until the batch is no longer running.
 * The deadline is a failure, not a pass: a batch that never finishes fails the test.
 */
export async function waitForBatch({ api, headers }: ApiTarget, id: string, deadlineMs = 60_000): Promise<BatchStatusBody> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const response = await fetch(`${api}/imports/${id}`, { headers });
    if (response.status !== 200) throw new Error(`batch status answered ${response.status}: ${await response.text()}`);
    const body = (await response.json()) as BatchStatusBody;
    if (body.status !== "running") return body;
    if (Date.now() > deadline) throw new Error(`batch ${id} still running after ${deadlineMs} ms: ${JSON.stringify(body.counts)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface DeviceStatusBody {
  index: number;
  serialNumber: string;
  state: string;
  attempts: number;
  error?: { code: string; name?: string; message?: string };
  [key: string]: unknown;
}

/** Every device of a batch, following nextLink page by page. */
export async function allDevices({ api, headers }: ApiTarget, id: string, query = ""): Promise<DeviceStatusBody[]> {
  const devices: DeviceStatusBody[] = [];
  const origin = new URL(api).origin;
  let next: string | undefined = `${api}/imports/${id}/devices?pageSize=1000${query ? `&${query}` : ""}`;
  while (next) {
    const response = await fetch(next, { headers });
    if (response.status !== 200) throw new Error(`device list answered ${response.status}: ${await response.text()}`);
    const page = (await response.json()) as { value: DeviceStatusBody[]; nextLink?: string };
    devices.push(...page.value);
    next = page.nextLink ? `${origin}${page.nextLink}` : undefined;
  }
  return devices;
}
