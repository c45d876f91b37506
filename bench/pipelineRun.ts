import { createServices, type Services } from "../src/app/services.js";
import { functionDefinitions } from "../src/app/functionDefinitions.js";
import type { FunctionDefinition } from "../src/app/functionTypes.js";
import { loadConfig } from "../src/config/config.js";
import type { GraphSimulator } from "../src/dev/simulator/index.js";
import { startAzurite, type RunningAzurite } from "../src/dev/host/azurite.js";
import { startDevHost, type DevHost } from "../src/dev/host/devHost.js";
import { loadHostSettings, type HostSettings } from "../src/dev/host/hostSettings.js";
import type { Logger } from "../src/telemetry/logging.js";
import { ImportStore } from "../src/storage/importStore.js";
import { createStorageClients } from "../src/storage/clients.js";
import { DEVICE_POISON_QUEUE, DEVICE_QUEUE, FOLLOWER_POISON_QUEUE, FOLLOWER_QUEUE } from "../src/storage/names.js";
import { makeCsv, type CsvDevice } from "../test/support/devices.js";
import { addTestPartner } from "../test/support/partners.js";
import { startCountingProxy, type CountingProxy, type ObservedCall, type ProxiedCall } from "./countingProxy.js";
import { sleep } from "./graphCaller.js";
import type { LogFields } from "../src/telemetry/logFields.js";
import type { QueueDelivery } from "../src/storage/queueText.js";

/** The pipeline as deployed: several instances (development hosts) sharing one storage account, all counted. */
export interface PipelineUnderTest {
  api: string;
  instances: DevHost[];
  storageRequests(): number;
  /** Storage requests by kind (see countingProxy.ts), most frequent first. */
  storageByKind(): Record<string, number>;
  /** The slowest storage answer (queue or table) in each epoch second. */
  storageSlowestBySecond(): Map<number, number>;
  /** Every storage call the pipeline made, queue and table, in no particular order. */
  storageCalls(): ProxiedCall[];
  /** The longest invocation of each queue message kind (submit, pollBatch, …): work plus waits. */
  longestInvocationMs(): Record<string, number>;
  /** The longest a device invocation sat idle (waiting for its write slot, holding back a send), as the worker logs it. */
  maxSlotWaitMs(): number;
  /** How late writes left after their slots: percentiles in ms. */
  lateness(): Record<string, number>;
  /** Reads status straight from Azurite, not through the counting proxy: watching is not the pipeline's cost. */
  waitFinal(batchId: string, deadline: number): Promise<{ finishedAt: number; counts: Record<string, number> }>;
  submit(tenantId: string, devices: CsvDevice[]): Promise<string>;
  /** Waits until the device and follower queues hold no message (visible or not), read straight from Azurite; when it was. */
  waitDrained(deadline: number): Promise<number>;
  /**
   * Storage unreachable for every instance for `ms`, from the first storage request made once
   * `condition` holds (checked at each request, so at the pipeline's own pace, not a timer's):
   * the proxies refuse and cut connections. Resolves with when it went and came back.
   */
  storageDownWhen(condition: () => boolean, ms: number): Promise<{ from: number; to: number }>;
  /** The tenant's pacing row's shift now, read straight from Azurite (0 before its first write). */
  pacingShiftMs(tenantId: string): Promise<number>;
  stop(): Promise<void>;
}

export interface PipelineProbe {
  /** Every line the instances log (their loggers are otherwise silent), as it is logged. */
  onLog?(level: "info" | "warn" | "error", message: string, fields: LogFields | undefined): void;
  /** host.json's time settings and the timers' periods divided by this (the bench's time scale), as the budget window is; absent: as they are. */
  timeScaleDivisor?: number;
  /** Every storage call the instances make, with its bodies (only when set: buffering them costs the proxy). */
  onStorageCall?(service: "queue" | "table", call: ObservedCall): void;
}

export async function startPipelineUnderTest(
  simulator: GraphSimulator,
  env: Record<string, string>,
  instances: number,
  probe: PipelineProbe = {},
): Promise<PipelineUnderTest> {
  const azurite: RunningAzurite = await startAzurite();
  const observe = (service: "queue" | "table") =>
    probe.onStorageCall ? (call: ObservedCall) => probe.onStorageCall!(service, call) : undefined;
  const queueProxy: CountingProxy = await startCountingProxy(azurite.ports.queue, "queue", observe("queue"));
  const tableProxy: CountingProxy = await startCountingProxy(azurite.ports.table, "table", observe("table"));
  const counted = azurite.connectionString
    .replace(`:${azurite.ports.queue}/`, `:${queueProxy.port}/`)
    .replace(`:${azurite.ports.table}/`, `:${tableProxy.port}/`);
  const longest: Record<string, number> = {};
  let maxSlotWaitMs = 0;
  const lateness: number[] = [];
  const note = (fields: LogFields | undefined) => {
    // An invocation's waits: for its write slot, and holding back the send of its next message.
    if (fields?.slotWaitMs !== undefined || fields?.sendHoldMs !== undefined)
      maxSlotWaitMs = Math.max(maxSlotWaitMs, (fields.slotWaitMs ?? 0) + (fields.sendHoldMs ?? 0));
    if (fields?.lateMs !== undefined) lateness.push(fields.lateMs);
  };
  const slotWaits: Logger = {
    info: (message, fields) => {
      note(fields);
      probe.onLog?.("info", message, fields);
    },
    warn: (message, fields) => {
      note(fields);
      probe.onLog?.("warn", message, fields);
    },
    error: (message, fields) => probe.onLog?.("error", message, fields),
  };
  const timed: FunctionDefinition[] = functionDefinitions.map((d) =>
    d.kind !== "queue"
      ? d
      : {
          ...d,
          handle: async (s: Services, payload: unknown, delivery: QueueDelivery) => {
            const started = performance.now();
            const kind = `${d.name}:${(payload as { kind?: string } | null)?.kind ?? "?"}`;
            try {
              await d.handle(s, payload, delivery);
            } finally {
              longest[kind] = Math.max(longest[kind] ?? 0, performance.now() - started);
            }
          },
        },
  );
  const config = loadConfig({ AzureWebJobsStorage: counted, GRAPH_BASE_URL: simulator.url, GRAPH_CREDENTIAL: "simulator", ...env });
  const services: Services[] = [];
  const hosts: DevHost[] = [];
  const hostSettings = probe.timeScaleDivisor ? scaledHostSettings(probe.timeScaleDivisor) : undefined;
  for (let i = 0; i < instances; i++) {
    const s = await createServices(config, slotWaits);
    services.push(s);
    // Timer functions run on one instance, as the Functions host runs each timer as a singleton; their storage calls count too.
    hosts.push(
      await startDevHost({
        services: s,
        definitions: timed,
        timers: i === 0,
        ...(hostSettings ? { hostSettings } : {}),
        ...(probe.timeScaleDivisor ? { timerPeriodDivisor: probe.timeScaleDivisor } : {}),
      }),
    );
  }
  // One partner per tenant the bench submits to, registered on first use.
  const partners = new Map<string, Promise<Record<string, string>>>();
  const headersFor = (tenantId: string) => {
    if (!partners.has(tenantId))
      partners.set(
        tenantId,
        addTestPartner(services[0]!, { tenants: [tenantId] }).then((p) => p.headers),
      );
    return partners.get(tenantId)!;
  };
  const direct = new ImportStore(createStorageClients({ kind: "connectionString", connectionString: azurite.connectionString }).imports);
  queueProxy.reset();
  tableProxy.reset();
  const api = `${hosts[0]!.url}/api`;
  /** What a stuck batch looks like inside: a few unfinished rows and the queues' lengths. */
  async function diagnose(batchId: string): Promise<string> {
    const lines: string[] = [];
    for (const state of ["queued", "submitting", "retrying", "submitted"] as const) {
      const rows = await direct.devicesInState(batchId, state);
      for (const row of rows.slice(0, 3)) {
        const { hardwareIdentifier: _h, productKey: _p, assignedUserPrincipalName: _u, ...visible } = row;
        lines.push(`${state} (${rows.length}): ${JSON.stringify(visible)}`);
      }
    }
    const clients = createStorageClients({ kind: "connectionString", connectionString: azurite.connectionString });
    for (const name of [DEVICE_QUEUE, DEVICE_POISON_QUEUE, `${DEVICE_POISON_QUEUE}-poison`, FOLLOWER_QUEUE, FOLLOWER_POISON_QUEUE]) {
      const properties = await clients
        .queueNamed(name)
        .getProperties()
        .catch(() => undefined);
      lines.push(`queue ${name}: ${properties?.approximateMessagesCount ?? "absent"} messages`);
    }
    return lines.join("\n");
  }
  return {
    api,
    instances: hosts,
    storageRequests: () => queueProxy.count() + tableProxy.count(),
    storageByKind: () => {
      const all: Record<string, number> = { ...queueProxy.byKind(), ...tableProxy.byKind() };
      return Object.fromEntries(Object.entries(all).sort((a, b) => b[1] - a[1]));
    },
    longestInvocationMs: () => ({ ...longest }),
    storageSlowestBySecond: () => {
      const merged = new Map(queueProxy.slowestBySecond());
      for (const [s, ms] of tableProxy.slowestBySecond()) merged.set(s, Math.max(merged.get(s) ?? 0, ms));
      return merged;
    },
    storageCalls: () => [...queueProxy.calls(), ...tableProxy.calls()],
    maxSlotWaitMs: () => maxSlotWaitMs,
    lateness: () => {
      const sorted = [...lateness].sort((a, b) => a - b);
      const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
      return { writes: sorted.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted.at(-1) ?? 0 };
    },
    async submit(tenantId, devices) {
      const response = await fetch(`${api}/imports?tenantId=${tenantId}`, {
        method: "POST",
        headers: { ...(await headersFor(tenantId)), "content-type": "text/csv" },
        body: new Uint8Array(makeCsv(devices)),
      });
      if (response.status !== 202) throw new Error(`intake answered ${response.status}: ${await response.text()}`);
      return ((await response.json()) as { id: string }).id;
    },
    async waitFinal(batchId, deadline) {
      for (;;) {
        const summary = await direct.readSummary(batchId);
        if (summary && summary.counts.imported + summary.counts.failed >= summary.batch.deviceCount) {
          return { finishedAt: Date.now(), counts: summary.counts };
        }
        if (Date.now() > deadline) {
          throw new Error(`batch ${batchId} not final by the deadline: ${JSON.stringify(summary?.counts)}\n${await diagnose(batchId)}`);
        }
        await sleep(250);
      }
    },
    async waitDrained(deadline) {
      const clients = createStorageClients({ kind: "connectionString", connectionString: azurite.connectionString });
      const queues = [clients.queueNamed(DEVICE_QUEUE), clients.queueNamed(FOLLOWER_QUEUE)];
      for (;;) {
        let approximateMessagesCount = 0;
        for (const queue of queues) approximateMessagesCount += (await queue.getProperties()).approximateMessagesCount ?? 0;
        if (!approximateMessagesCount) return Date.now();
        if (Date.now() > deadline) throw new Error(`device queue still holds ${approximateMessagesCount} messages at the deadline`);
        await sleep(250);
      }
    },
    storageDownWhen(condition, ms) {
      return new Promise((resolve) => {
        const proxies = [queueProxy, tableProxy];
        const check = () => {
          if (!condition()) return;
          for (const proxy of proxies) {
            proxy.beforeEachRequest(undefined);
            proxy.setDown(true);
          }
          const from = Date.now();
          setTimeout(() => {
            for (const proxy of proxies) proxy.setDown(false);
            resolve({ from, to: Date.now() });
          }, ms);
        };
        for (const proxy of proxies) proxy.beforeEachRequest(check);
      });
    },
    async pacingShiftMs(tenantId) {
      const clients = createStorageClients({ kind: "connectionString", connectionString: azurite.connectionString });
      const row = await clients.pacing.getEntity<{ shiftMs?: number }>(tenantId, "writes").catch(() => undefined);
      return Number(row?.shiftMs ?? 0);
    },
    async stop() {
      for (const host of hosts) await host.stop();
      await queueProxy.stop();
      await tableProxy.stop();
      await azurite.stop();
    },
  };
}

/** host.json with the time a failed message waits before it is tried again divided by `divisor`. */
function scaledHostSettings(divisor: number): HostSettings {
  const base = loadHostSettings();
  return { ...base, queues: { ...base.queues, visibilityTimeoutMs: base.queues.visibilityTimeoutMs / divisor } };
}
