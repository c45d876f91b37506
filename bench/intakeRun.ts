import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createServices, type Services } from "../src/app/services.js";
import { loadConfig } from "../src/config/config.js";
import { startGraphSimulator } from "../src/dev/simulator/index.js";
import { startAzurite } from "../src/dev/host/azurite.js";
import { silentLogger } from "../src/telemetry/logging.js";
import { makeDevices } from "../test/support/devices.js";
import { addTestPartner } from "../test/support/partners.js";
import { startCountingProxy } from "./countingProxy.js";
import { sleep } from "./graphCaller.js";

/**
 * Intake (issue 19): time from POST /api/imports to its 202 for 100, 1,000 and 10,000 devices on a
 * quiet host (median of 3), for 1,000 devices while a 10,000-device batch of the same tenant
 * imports, the host's peak RSS for a 10,000-device POST, and the time from a 10,000-device
 * batch's 202 to its first create reaching Graph. Each phase in a fresh environment (Azurite and
 * one development host in a child process, its RSS its own, warmed up by a 10-device batch), the
 * Graph simulator, real pacing (Intune's 100 writes per 20 s) in the default mode (import action,
 * chunks of 100); storage requests counted by a proxy, so the fan-out's cost in storage
 * transactions per device is known (over the quiet 100- and 1,000-device batches).
 */
export interface IntakeFigures {
  intakeMs100: number;
  intakeMs1000: number;
  intakeMs10000: number;
  intakeUnderLoadMs1000: number;
  intakePeakRssMb10000: number;
  firstCreateAfter202Ms: number;
  runs: Record<string, number[]>;
  /** Storage requests of the fan-out per device: its own (fan-out messages, progress rows) and with the device messages it sends. */
  fanOutOverheadTransactionsPerDevice: number;
  fanOutTransactionsPerDevice: number;
  fanOutByKind: Record<string, number>;
  devices: number;
}

const HOST_ENTRY = fileURLToPath(new URL("./intakeHostMain.js", import.meta.url));
const median = (xs: readonly number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]! : NaN);

interface Environment {
  api: string;
  pid: number;
  headers: Record<string, string>;
  services: Services;
  storageByKind(): Record<string, number>;
  resetCounts(): void;
  output(): string;
  stop(): Promise<void>;
}

/** A fresh Azurite (behind counting proxies) and host process, with a partner for `tenants`: a quiet host. */
async function startEnvironment(graphUrl: string, tenants: readonly string[]): Promise<Environment> {
  const azurite = await startAzurite();
  const queueProxy = await startCountingProxy(azurite.ports.queue, "queue");
  const tableProxy = await startCountingProxy(azurite.ports.table, "table");
  const counted = azurite.connectionString
    .replace(`:${azurite.ports.queue}/`, `:${queueProxy.port}/`)
    .replace(`:${azurite.ports.table}/`, `:${tableProxy.port}/`);
  const services = await createServices(
    loadConfig({ AzureWebJobsStorage: azurite.connectionString, GRAPH_BASE_URL: graphUrl, GRAPH_CREDENTIAL: "simulator" }),
    silentLogger,
  );
  const partner = await addTestPartner(services, { tenants });
  const host = await startHost({
    PATH: process.env.PATH ?? "",
    AzureWebJobsStorage: counted,
    GRAPH_BASE_URL: graphUrl,
    GRAPH_CREDENTIAL: "simulator",
  });
  return {
    api: host.api,
    pid: host.pid,
    headers: partner.headers,
    services,
    storageByKind: () => ({ ...queueProxy.byKind(), ...tableProxy.byKind() }),
    resetCounts: () => {
      queueProxy.reset();
      tableProxy.reset();
    },
    output: host.output,
    async stop() {
      await host.stop();
      await queueProxy.stop();
      await tableProxy.stop();
      await azurite.stop();
    },
  };
}

export async function measureIntake(say: (line: string) => void = console.log): Promise<IntakeFigures> {
  const simulator = await startGraphSimulator({ settleDelayMs: 2_000, listLagMs: 300 });
  const tenants = Array.from({ length: 12 }, (_, i) => `eeeeeeee-0000-4000-8000-${String(i + 1).padStart(12, "0")}`);
  const runs: Record<string, number[]> = {
    intakeMs100: [],
    intakeMs1000: [],
    intakeMs10000: [],
    intakeUnderLoadMs1000: [],
    firstCreateAfter202Ms: [],
    peakRssMb10000: [],
  };
  let submitted = 0;
  const bodies = new Map<string, string>();
  const bodyOf = (count: number, prefix: string) => {
    const key = `${count}/${prefix}`;
    if (!bodies.has(key)) bodies.set(key, JSON.stringify({ devices: makeDevices(count, prefix) }));
    return bodies.get(key)!;
  };
  async function submit(
    env: Environment,
    count: number,
    tenantId: string,
    prefix: string,
  ): Promise<{ id: string; ms: number; answeredAt: number }> {
    const body = bodyOf(count, prefix);
    const started = performance.now();
    const response = await fetch(`${env.api}/imports?tenantId=${tenantId}`, {
      method: "POST",
      headers: { ...env.headers, "content-type": "application/json" },
      body,
    });
    const text = await response.text();
    const ms = performance.now() - started;
    if (response.status !== 202) throw new Error(`intake answered ${response.status}: ${text.slice(0, 500)}\n${env.output()}`);
    submitted += count;
    return { id: (JSON.parse(text) as { id: string }).id, ms, answeredAt: Date.now() };
  }
  /** Until the batch's fan-out has sent every device's message (its intake is finished). */
  async function fannedOut(env: Environment, id: string, deadlineMs = 300_000): Promise<void> {
    const deadline = Date.now() + deadlineMs;
    while ((await env.services.store.readBatch(id))?.intakeState !== "accepted") {
      if (Date.now() > deadline) throw new Error(`batch ${id}: fan-out not finished in ${deadlineMs} ms\n${env.output()}`);
      await sleep(100);
    }
  }
  async function firstCreate(id: string, deadlineMs = 60_000): Promise<number> {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      const first = simulator.creates.find((c) => c.importId?.startsWith(`${id}/`));
      if (first) return first.at;
      if (Date.now() > deadline) throw new Error(`batch ${id}: no create within ${deadlineMs} ms`);
      await sleep(5);
    }
  }
  /** A fresh environment, warmed up (the first request of a process compiles its code paths; the figures leave it out). */
  async function warmEnvironment(): Promise<Environment> {
    const env = await startEnvironment(simulator.url, tenants);
    await fannedOut(env, (await submit(env, 10, tenants[11]!, "WARM")).id);
    env.resetCounts();
    return env;
  }
  // BENCH_INTAKE_PHASES=quiet,big,load (all by default): some phases alone, for working on one figure (the others are then NaN).
  const phases = new Set((process.env.BENCH_INTAKE_PHASES ?? "quiet,big,load").split(","));
  try {
    // Quiet: 100 and 1,000 devices, each batch's fan-out finished before the next POST; the fan-out's storage requests counted.
    let env: Environment;
    let quietDevices = 0;
    let fanOutKinds: Record<string, number> = {};
    if (phases.has("quiet")) {
      env = await warmEnvironment();
      for (const count of [100, 1_000]) {
        for (let run = 0; run < 3; run++) {
          const { id, ms } = await submit(env, count, tenants[run]!, `Q${count}R${run}`);
          runs[`intakeMs${count}`]!.push(ms);
          quietDevices += count;
          await fannedOut(env, id);
          await sleep(500);
        }
      }
      fanOutKinds = fanOutKindsOf(env.storageByKind());
      await env.stop();
    }
    // Quiet: 10,000 devices, each run in a fresh host (its peak RSS is this POST's), to its first create.
    for (let run = 0; run < (phases.has("big") ? 3 : 0); run++) {
      env = await warmEnvironment();
      const { id, ms, answeredAt } = await submit(env, 10_000, tenants[3 + run]!, `BIG${run}`);
      runs.intakeMs10000!.push(ms);
      runs.firstCreateAfter202Ms!.push((await firstCreate(id)) - answeredAt);
      runs.peakRssMb10000!.push(peakRssMb(env.pid));
      say(
        `  10,000 devices: 202 in ${Math.round(ms)} ms, first create ${Math.round(runs.firstCreateAfter202Ms!.at(-1)!)} ms after it, host peak RSS ${runs.peakRssMb10000!.at(-1)!.toFixed(0)} MB`,
      );
      await env.stop();
    }
    // Under load: a 10,000-device batch of one tenant is fanned out and imports while 1,000-device POSTs of the same tenant come in.
    if (phases.has("load")) {
      env = await warmEnvironment();
      await submit(env, 10_000, tenants[6]!, "LOAD");
      for (let run = 0; run < 3; run++) runs.intakeUnderLoadMs1000!.push((await submit(env, 1_000, tenants[6]!, `UL${run}`)).ms);
      await env.stop();
    }

    const perDevice = Object.fromEntries(Object.entries(fanOutKinds).map(([k, n]) => [k, n / (quietDevices || NaN)]));
    const deviceSends = Object.entries(perDevice)
      .filter(([k]) => DEVICE_SEND.test(k))
      .reduce((sum, [, n]) => sum + n, 0);
    const all = Object.values(perDevice).reduce((sum, n) => sum + n, 0);
    return {
      intakeMs100: median(runs.intakeMs100!),
      intakeMs1000: median(runs.intakeMs1000!),
      intakeMs10000: median(runs.intakeMs10000!),
      intakeUnderLoadMs1000: median(runs.intakeUnderLoadMs1000!),
      intakePeakRssMb10000: runs.peakRssMb10000!.length ? Math.max(...runs.peakRssMb10000!) : NaN,
      firstCreateAfter202Ms: median(runs.firstCreateAfter202Ms!),
      runs,
      fanOutOverheadTransactionsPerDevice: all - deviceSends,
      fanOutTransactionsPerDevice: all,
      fanOutByKind: perDevice,
      devices: submitted,
    };
  } finally {
    await simulator.stop();
  }
}

const DEVICE_SEND = /^POST queue:device-(imports|followers) messages$/;

/**
 * The storage requests that are the fan-out's: its queue, its progress rows, the device pages it
 * reads, and the device messages it sends. Its page transactions (rows created, page deleted: one
 * per page) are `POST table:$batch`, counted with every other transaction and not told apart here.
 */
function fanOutKindsOf(byKind: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(byKind).filter(
      ([kind]) => kind.includes("device-fanout") || kind.includes("(fanout") || kind.includes("(page") || DEVICE_SEND.test(kind),
    ),
  );
}

/** The process's peak resident set (VmHWM), in MB. */
function peakRssMb(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) / 1024 : NaN;
}

async function startHost(env: Record<string, string>): Promise<{ api: string; pid: number; output(): string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [HOST_ENTRY], { env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stderr!.on("data", (chunk: Buffer) => void (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const api = await new Promise<string>((resolve, reject) => {
    let stdout = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const ready = /^\{"api":"([^"]+)"\}$/m.exec(stdout);
      if (ready) resolve(ready[1]!);
    });
    child.once("exit", (code) => reject(new Error(`bench host exited (${code}) before it served:\n${output}`)));
  });
  return {
    api,
    pid: child.pid!,
    output: () => output.slice(-4_000),
    async stop() {
      child.kill("SIGTERM");
      await Promise.race([exited, sleep(10_000).then(() => child.kill("SIGKILL"))]);
    },
  };
}

const ms = (x: number) => `${Math.round(x)} ms`;
const mark = (ok: boolean) => (ok ? "✓" : "✗");

export function printIntake(f: IntakeFigures): void {
  console.log("");
  console.log("intake (time to 202, median of 3; host in its own process, Azurite, default mode)");
  console.log(
    `  intakeMs100                        ${ms(f.intakeMs100)}  target ≤ 300 ms  ${mark(f.intakeMs100 <= 300)}   runs ${f.runs.intakeMs100!.map(ms).join(", ")}`,
  );
  console.log(
    `  intakeMs1000                       ${ms(f.intakeMs1000)}  target ≤ 600 ms  ${mark(f.intakeMs1000 <= 600)}   runs ${f.runs.intakeMs1000!.map(ms).join(", ")}`,
  );
  console.log(
    `  intakeMs10000                      ${ms(f.intakeMs10000)}  target ≤ 3000 ms  ${mark(f.intakeMs10000 <= 3_000)}   runs ${f.runs.intakeMs10000!.map(ms).join(", ")}`,
  );
  console.log(
    `  intakeUnderLoadMs1000              ${ms(f.intakeUnderLoadMs1000)}  target ≤ 1200 ms  ${mark(f.intakeUnderLoadMs1000 <= 1_200)}   runs ${f.runs.intakeUnderLoadMs1000!.map(ms).join(", ")}`,
  );
  console.log(
    `  intakePeakRssMb10000               ${f.intakePeakRssMb10000.toFixed(0)} MB  target ≤ 400 MB  ${mark(f.intakePeakRssMb10000 <= 400)}   runs (a fresh host each) ${f.runs.peakRssMb10000!.map((x) => x.toFixed(0)).join(", ")} MB`,
  );
  console.log(
    `  firstCreateAfter202Ms              ${ms(f.firstCreateAfter202Ms)}  target ≤ 2000 ms  ${mark(f.firstCreateAfter202Ms <= 2_000)}   runs ${f.runs.firstCreateAfter202Ms!.map(ms).join(", ")}`,
  );
  console.log(
    `  fan-out storage transactions per device: ${f.fanOutTransactionsPerDevice.toFixed(3)} (of which the device messages' sends ${(f.fanOutTransactionsPerDevice - f.fanOutOverheadTransactionsPerDevice).toFixed(3)}, the fan-out's own ${f.fanOutOverheadTransactionsPerDevice.toFixed(4)})`,
  );
  for (const [kind, n] of Object.entries(f.fanOutByKind)) console.log(`    ${kind.padEnd(48)} ${n.toFixed(4)}`);
}
