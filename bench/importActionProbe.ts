/**
 * `npm run build && node dist/bench/importActionProbe.js`: one tenant's batch through the import
 * action, as in the bench's importAction scenario, with a timeline of where its time goes. Not a
 * measurement of record (that is `npm run bench`): a tool for finding what limits the scenario.
 * PROBE_DEVICES (default 2,000), PROBE_CHUNK (100), PROBE_MODE (import | create), BENCH_SCALE (5).
 *
 * Prints the phases (the POST, the first and last import action, the last device final, the
 * queue drained), then per second: devices final, import actions, Graph reads, storage calls by
 * kind with the time their answers took, and what the instances logged.
 */
import { startGraphSimulator } from "../src/dev/simulator/index.js";
import { makeDevices } from "../test/support/devices.js";
import { startPipelineUnderTest } from "./pipelineRun.js";
import { sleep } from "./graphCaller.js";
import { readdirSync, readFileSync } from "node:fs";

/** CPU seconds used so far by this process and by its child processes (Azurite), from /proc. */
function cpuSeconds(): { self: number; children: number } {
  const ticks = 100; // USER_HZ
  const children = readdirSync(`/proc/${process.pid}/task`).flatMap((tid) =>
    readFileSync(`/proc/${process.pid}/task/${tid}/children`, "utf8").trim().split(/\s+/).filter(Boolean),
  );
  let childSeconds = 0;
  for (const pid of children) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
      childSeconds += (Number(fields[11]) + Number(fields[12])) / ticks;
    } catch {
      // gone
    }
  }
  const usage = process.cpuUsage();
  return { self: (usage.user + usage.system) / 1e6, children: childSeconds };
}

const TENANT = "aaaaaaaa-0000-4000-8000-0000000000aa";
const DEVICES = Number(process.env.PROBE_DEVICES ?? 2_000);
const CHUNK = Number(process.env.PROBE_CHUNK ?? 100);
const MODE = process.env.PROBE_MODE ?? "import";
const SCALE = Number(process.env.BENCH_SCALE ?? 5);
const WINDOW_MS = 20_000 / SCALE;
const PER_APP = 100;

const simulatorOptions = {
  throttle: { windowMs: WINDOW_MS, perAppPerTenant: PER_APP, perTenant: 2 * PER_APP },
  readThrottle: { windowMs: WINDOW_MS, perAppPerTenant: 10 * PER_APP, perTenant: 20 * PER_APP },
  settleDelayMs: 2_000,
  latencyMs: 400,
  timeScale: 1 / SCALE,
};
const pipelineEnv: Record<string, string> = {
  PACING_WINDOW_MS: String(WINDOW_MS),
  PACING_WRITES_PER_WINDOW: String(PER_APP),
  FOLLOW_UP_FIRST_DELAY_MS: String(Math.round(15_000 / SCALE)),
  FOLLOW_UP_MAX_DELAY_MS: String(Math.round(60_000 / SCALE)),
  RETRY_BASE_DELAY_MS: String(Math.round(2_000 / SCALE)),
  RETRY_MAX_DELAY_MS: String(Math.round(60_000 / SCALE)),
  GRAPH_LIST_GRACE_MS: String(Math.round(60_000 / SCALE)),
  ...(MODE === "create" ? { GRAPH_IMPORT_MODE: "create" } : { IMPORT_CHUNK_SIZE: String(CHUNK) }),
};

const simulator = await startGraphSimulator(simulatorOptions);
const logged: { at: number; message: string }[] = [];
const pipeline = await startPipelineUnderTest(simulator, pipelineEnv, 4, {
  onLog: (_level, message) => logged.push({ at: Date.now(), message }),
});
try {
  const devices = makeDevices(DEVICES, "P");
  const cpuBefore = cpuSeconds();
  const started = Date.now();
  const posting = pipeline.submit(TENANT, devices).then((id) => ({ id, at: Date.now() }));
  const { id, at: postedAt } = await posting;
  const done = await pipeline.waitFinal(id, started + 15 * 60_000);
  const cpuAtFinal = cpuSeconds();
  const drainedAt = await pipeline.waitDrained(started + 20 * 60_000);
  const cpuAtDrained = cpuSeconds();
  await sleep(100);
  const rel = (t: number) => ((t - started) / 1000).toFixed(1);
  const writes = simulator.requestLog.filter((r) => r.tenantId === TENANT && r.method !== "GET");
  console.log(
    `${MODE}, ${DEVICES} devices, chunks of ${CHUNK}, scale 1/${SCALE}: POST answered at ${rel(postedAt)} s; writes from ${rel(writes[0]?.at ?? NaN)} to ${rel(writes.at(-1)?.at ?? NaN)} s (${writes.length}); final at ${rel(done.finishedAt)} s (${(DEVICES / ((done.finishedAt - started) / 1000)).toFixed(1)} devices/s); drained at ${rel(drainedAt)} s`,
  );
  console.log(`counts ${JSON.stringify(done.counts)}; storage ${(pipeline.storageRequests() / DEVICES).toFixed(2)} per device`);
  console.log(
    `CPU until final: Azurite ${(cpuAtFinal.children - cpuBefore.children).toFixed(1)} s, bench process (4 instances, proxies, simulator) ${(cpuAtFinal.self - cpuBefore.self).toFixed(1)} s; ` +
      `until drained: Azurite ${(cpuAtDrained.children - cpuBefore.children).toFixed(1)} s, bench ${(cpuAtDrained.self - cpuBefore.self).toFixed(1)} s; load average ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`,
  );

  // Per second: storage calls by kind (count, summed answer time), Graph calls, log lines.
  const seconds = new Map<number, { storage: Map<string, [number, number]>; graph: Map<string, number>; logs: Map<string, number> }>();
  const row = (t: number) => {
    const s = Math.floor((t - started) / 1000);
    if (!seconds.has(s)) seconds.set(s, { storage: new Map(), graph: new Map(), logs: new Map() });
    return seconds.get(s)!;
  };
  for (const call of pipeline.storageCalls()) {
    const r = row(call.at).storage;
    const kind = call.kind.replace(/^(\S+) (queue|table):(\S+)/, "$1 $2:$3").replace("device-imports", "dq");
    const [n, ms] = r.get(kind) ?? [0, 0];
    r.set(kind, [n + 1, ms + call.ms]);
  }
  for (const call of simulator.requestLog.filter((r) => r.tenantId === TENANT)) {
    const r = row(call.at).graph;
    const kind = `${call.method} ${call.path.includes("/import") ? "import" : call.path.split("?")[0]!.split("/").pop()} ${call.status}`;
    r.set(kind, (r.get(kind) ?? 0) + 1);
  }
  for (const line of logged) {
    const r = row(line.at).logs;
    r.set(line.message, (r.get(line.message) ?? 0) + 1);
  }
  const fmt = (m: Map<string, number>) => [...m].map(([k, n]) => `${k}×${n}`).join(", ");
  for (const [s, r] of [...seconds].sort((a, b) => a[0] - b[0])) {
    const storage = [...r.storage].sort((a, b) => b[1][1] - a[1][1]).map(([k, [n, ms]]) => `${k}×${n} ${Math.round(ms / n)}ms`);
    console.log(`${String(s).padStart(4)} s | storage ${storage.join(", ")} | graph ${fmt(r.graph)} | log ${fmt(r.logs)}`);
  }
  // Totals by kind: calls per device and mean answer time.
  const totals = new Map<string, [number, number]>();
  for (const call of pipeline.storageCalls()) {
    const [n, ms] = totals.get(call.kind) ?? [0, 0];
    totals.set(call.kind, [n + 1, ms + call.ms]);
  }
  for (const [kind, [n, ms]] of [...totals].sort((a, b) => b[1][1] - a[1][1]))
    console.log(
      `  ${kind.padEnd(50)} ${(n / DEVICES).toFixed(3)}/device, mean ${(ms / n).toFixed(1)} ms, total ${(ms / 1000).toFixed(1)} s`,
    );
} finally {
  await pipeline.stop();
  await simulator.stop();
}
process.exit(0);
