import { odata, type TableClient } from "@azure/data-tables";
import { createServices, type Services } from "../../../src/app/services.js";
import { loadConfig } from "../../../src/config/config.js";
import { startGraphSimulator, type GraphSimulator, type SimulatorOptions } from "../../../src/dev/simulator/index.js";
import { startAzurite, type RunningAzurite } from "../../../src/dev/host/azurite.js";
import { startDevHost } from "../../../src/dev/host/devHost.js";
import type { FunctionDefinition } from "../../../src/app/functionTypes.js";
import { loadHostSettings } from "../../../src/dev/host/hostSettings.js";
import type { HostSettingsOverride } from "./childHost.js";
import { silentLogger } from "../../../src/telemetry/logging.js";
import { addTestPartner, type TestPartner } from "../../support/partners.js";
import { account, type AcceptedBatch, type DeviceRow, type Ledger } from "./ledger.js";

export const TENANT = "aaaaaaaa-0000-4000-8000-00000000fa17";

/**
 * What every fault scenario runs against: a real Azurite, the Graph simulator, and an
 * in-process view of the same storage (the test's own clients, which no fault touches) for
 * reading outcomes and running the sweeper as its timer would. Hosts are started by the
 * scenario, in-process or as child processes, with `hostEnv`.
 */
export interface FaultWorld {
  azurite: RunningAzurite;
  simulator: GraphSimulator;
  /** Clients straight to Azurite, never through a fault. */
  services: Services;
  /** A partner allowed to import into TENANT; spread `partner.headers` into a request. */
  partner: TestPartner;
  /** Settings for a host of this world; `storage` replaces the connection string (e.g. through a proxy). */
  hostEnv(overrides?: Record<string, string>, storage?: string): Record<string, string>;
  /** A development host in this process (for scenarios that do not kill it); stopped by `stop`. */
  startHost(
    env?: Record<string, string>,
    hostSettings?: HostSettingsOverride,
    /** Which functions it runs (all by default) and which timers (none by default: a scenario runs the sweeper itself). */
    run?: { definitions?: readonly FunctionDefinition[]; timers?: boolean },
  ): Promise<{ api: string; services: Services }>;
  /** Every device row of a batch. */
  deviceRows(batchId: string): Promise<DeviceRow[]>;
  /** Waits until every accepted device is final or the deadline passes, then accounts for them. */
  settle(accepted: readonly AcceptedBatch[], deadlineMs: number): Promise<Ledger>;
  /** For a failed assertion: each batch with lost devices, its header's intake and poll fields, its fan-out ranges and one lost row (no secrets). */
  explainLost(ledger: Ledger): Promise<string>;
  stop(): Promise<void>;
}

export async function startFaultWorld(options: { simulator?: SimulatorOptions } = {}): Promise<FaultWorld> {
  const azurite = await startAzurite();
  // Graph's own throttle far above what the pipeline paces to here (1,000 writes per 2 s), so a
  // big batch is not slowed to Intune's real budget; scenario 3 injects its 429s itself.
  const unthrottled = { windowMs: 20_000, perAppPerTenant: 1_000_000, perTenant: 1_000_000 };
  // Intune as observed, on a faster clock and in the same proportions: lists lag creates (300 ms
  // here, a few seconds there) by less than the list grace (1.5 s, 60 s there), and imports take
  // longer than either (2 s, 60-95 s there), so a lost create is found while it still imports.
  const simulator = await startGraphSimulator({
    settleDelayMs: 2_000,
    listLagMs: 300,
    throttle: unthrottled,
    readThrottle: unthrottled,
    ...options.simulator,
  });
  const hostEnv = (overrides: Record<string, string> = {}, storage = azurite.connectionString): Record<string, string> => ({
    AzureWebJobsStorage: storage,
    GRAPH_BASE_URL: simulator.url,
    GRAPH_CREDENTIAL: "simulator",
    DEFAULT_TENANT_ID: TENANT,
    // Retries and follow-ups at the queue's one-second granularity, as test/support/pipeline.ts does.
    RETRY_BASE_DELAY_MS: "1000",
    RETRY_MAX_DELAY_MS: "2000",
    FOLLOW_UP_FIRST_DELAY_MS: "1000",
    FOLLOW_UP_MAX_DELAY_MS: "2000",
    GRAPH_LIST_GRACE_MS: "1500",
    STATUS_RETRY_AFTER_SECONDS: "1",
    PACING_WINDOW_MS: "2000",
    PACING_WRITES_PER_WINDOW: "1000",
    // Storage retries within 8 s, under these scenarios' short function timeouts (6 and 10 s).
    STORAGE_RETRY_SPAN_MS: "8000",
    ...overrides,
  });
  const services = await createServices(loadConfig(hostEnv()), silentLogger);
  const partner = await addTestPartner(services, { tenants: [TENANT] });
  const deviceRows = (batchId: string) => readDeviceRows(services.storage.imports, batchId);
  const stops: (() => Promise<void>)[] = [];
  return {
    azurite,
    simulator,
    services,
    partner,
    hostEnv,
    deviceRows,
    async startHost(env = hostEnv(), override = {}, run = {}) {
      const hostServices = await createServices(loadConfig(env), silentLogger);
      const base = loadHostSettings();
      const host = await startDevHost({
        services: hostServices,
        timers: run.timers ?? false,
        ...(run.definitions ? { definitions: run.definitions } : {}),
        hostSettings: { ...base, ...override, queues: { ...base.queues, ...override.queues } },
      });
      stops.push(host.stop);
      return { api: `${host.url}/${host.hostSettings.routePrefix}`, services: hostServices };
    },
    async settle(accepted, deadlineMs) {
      const deadline = Date.now() + deadlineMs;
      for (;;) {
        const rows = new Map<string, DeviceRow[]>();
        for (const batch of accepted) rows.set(batch.batchId, await deviceRows(batch.batchId));
        const ledger = account(accepted, rows, simulator.creates);
        if (ledger.final === ledger.accepted || Date.now() > deadline) return ledger;
        await sleep(250);
      }
    },
    async explainLost(ledger) {
      const batchIds = [...new Set(ledger.lostKeys.map((k) => k.split("/")[0]!))];
      const explained = [];
      for (const batchId of batchIds) {
        const header = await services.storage.imports.getEntity(batchId, "batch").catch(() => undefined);
        const ranges = await services.fanOutProgress.list(batchId);
        const rowKey = ledger.lostKeys
          .find((k) => k.startsWith(batchId))!
          .split("/")[1]!
          .split(" ")[0]!;
        const row = await services.storage.imports.getEntity(batchId, rowKey).catch(() => undefined);
        explained.push({
          batchId,
          lost: ledger.lostKeys.filter((k) => k.startsWith(batchId)).length,
          header: pick(header, ["intakeState", "acceptedAt", "pollAttempt", "pollClaimedBy", "pollIdleRounds", "status", "timestamp"]),
          ranges,
          row: pick(row, [
            "state",
            "attempts",
            "claimedBy",
            "graphId",
            "findRecordBySerial",
            "submittedAt",
            "updatedAt",
            "nextAttemptAt",
            "errorCode",
          ]),
        });
      }
      return JSON.stringify(explained, null, 1);
    },
    async stop() {
      for (const stop of stops.reverse()) await stop();
      await simulator.stop();
      await azurite.stop();
    },
  };
}

function pick(entity: Record<string, unknown> | undefined, keys: readonly string[]): Record<string, unknown> | undefined {
  return entity && Object.fromEntries(keys.filter((k) => entity[k] !== undefined).map((k) => [k, entity[k]]));
}

async function readDeviceRows(imports: TableClient, batchId: string): Promise<DeviceRow[]> {
  const rows: DeviceRow[] = [];
  const filter = odata`PartitionKey eq ${batchId} and RowKey ge 'device-' and RowKey lt 'device.'`;
  const select = ["RowKey", "state", "errorCode", "failures"];
  for await (const e of imports.listEntities<{ state: string; errorCode?: string; failures?: number }>({
    queryOptions: { filter, select },
  })) {
    rows.push({
      rowKey: e.rowKey!,
      state: e.state,
      ...(e.errorCode ? { errorCode: e.errorCode } : {}),
      ...(e.failures ? { failures: e.failures } : {}),
    });
  }
  return rows;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `condition` holds; the deadline is a failure naming what was awaited. */
export async function waitFor<T>(
  what: string,
  condition: () => T | undefined | false | Promise<T | undefined | false>,
  deadlineMs: number,
  everyMs = 20,
): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/** POSTs a batch as a partner would and reads the answer, whatever it is. */
export async function post(
  api: string,
  body: string | Buffer,
  contentType: string,
  headers: Record<string, string> = {},
  query = "",
): Promise<Answer> {
  const response = await fetch(`${api}/imports${query}`, { method: "POST", headers: { "content-type": contentType, ...headers }, body });
  const text = await response.text();
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { unparsed: text };
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

/** A 202's batch for the ledger; anything else fails with the answer in the message. */
export function acceptedBatch(answer: Answer, deviceCount: number): AcceptedBatch {
  if (answer.status !== 202) throw new Error(`expected 202, got ${answer.status}: ${JSON.stringify(answer.body)}`);
  return { batchId: String(answer.body.id), deviceCount };
}
