import { startGraphSimulator, type GraphSimulator, type SimulatorOptions } from "../src/dev/simulator/index.js";
import { makeDevices } from "../test/support/devices.js";
import { startPipelineUnderTest } from "./pipelineRun.js";
import { StorageAttribution } from "./storageAttribution.js";

/**
 * Issue 14's storm: the 2,000-device run of one tenant, once as it is and once with a 429 storm
 * (every write answered 429 with Retry-After 10 s, for 10 s, at real scale) a third of the way
 * through and storage unreachable for 15 s two thirds through. What the faults cost beyond
 * themselves: storage transactions per device (attributed to devices, storageAttribution.ts) for
 * the devices whose write slot a fault covered and for the rest, and wall time.
 */
export interface StormFigures {
  devices: number;
  /** Devices whose chunk had not been written when a fault began and was due before it ended. */
  affectedDevices: number;
  extraStorageTransactionsPerAffectedDevice: number;
  extraStorageTransactionsPerUnaffectedDevice: number;
  /** (faulted wall − clean wall − the faults' own length), at real scale (× the time scale's inverse). */
  wallOverIdealMs: number;
  /**
   * The same for the last write Graph took instead of the batch's final status: what the faults'
   * handling cost the schedule, without the poll rounds' cadence (a batch is final at the first
   * round after its last import settled, so its wall moves by up to FOLLOW_UP_FIRST_DELAY_MS, 15 s
   * at real scale, with the rounds' phase alone, in the clean run as in the faulted one).
   */
  lastWriteOverIdealMs: number;
  lost: number;
  duplicated: number;
  cleanWallMs: number;
  faultedWallMs: number;
  faultsMs: number;
  storageTransactionsPerDevice: { clean: number; faulted: number };
  /** Receives that found a queue empty, from the submit to the drained queues: not charged to devices (storageAttribution.ts). */
  idleReceives: { clean: number; faulted: number };
  /** Where the faulted run's extra transactions went, by kind, per device of the run (printed; the largest first). */
  extraByKind: Record<string, number>;
  throttled: number;
}

export interface StormOptions {
  tenantId: string;
  devices: number;
  instances: number;
  /** Real time ÷ bench time (5: a 20 s window is 4 s). */
  scale: number;
  simulatorOptions: () => SimulatorOptions;
  pipelineEnv: Record<string, string>;
}

const STORM_RETRY_AFTER_S = 10;
const OUTAGE_MS = 15_000;

interface Run {
  wallMs: number;
  /** When Graph took the run's last write (a create in its tenant), from the submit. */
  lastWriteMs: number;
  attribution: StorageAttribution;
  imported: number;
  failed: number;
  duplicated: number;
  throttled: number;
  /** Device indices whose chunk a fault covered (the faulted run only). */
  affected: Set<number>;
  byKind: Record<string, number>;
}

export async function stormScenario(options: StormOptions, log: (line: string) => void): Promise<StormFigures> {
  const stormMs = (STORM_RETRY_AFTER_S * 1000) / options.scale;
  const outageMs = OUTAGE_MS / options.scale;
  const clean = await runOnce(options, undefined);
  log(`  storm: clean run ${(clean.wallMs / 1000).toFixed(1)} s`);
  const faulted = await runOnce(options, {
    stormMs,
    outageMs,
    retryAfterSeconds: Math.max(1, Math.round(STORM_RETRY_AFTER_S / options.scale)),
  });
  log(`  storm: faulted run ${(faulted.wallMs / 1000).toFixed(1)} s, ${faulted.affected.size} devices in chunks a fault covered`);
  const all = Array.from({ length: options.devices }, (_, i) => i);
  const affected = all.filter((d) => faulted.affected.has(d));
  const unaffected = all.filter((d) => !faulted.affected.has(d));
  const extra = (set: number[]) => faulted.attribution.perDeviceOf(set) - clean.attribution.perDeviceOf(set);
  return {
    devices: options.devices,
    affectedDevices: affected.length,
    extraStorageTransactionsPerAffectedDevice: extra(affected),
    extraStorageTransactionsPerUnaffectedDevice: extra(unaffected),
    wallOverIdealMs: (faulted.wallMs - clean.wallMs - stormMs - outageMs) * options.scale,
    lastWriteOverIdealMs: (faulted.lastWriteMs - clean.lastWriteMs - stormMs - outageMs) * options.scale,
    lost: options.devices - faulted.imported - faulted.failed,
    duplicated: faulted.duplicated,
    cleanWallMs: clean.wallMs,
    faultedWallMs: faulted.wallMs,
    faultsMs: stormMs + outageMs,
    storageTransactionsPerDevice: {
      clean: clean.attribution.total() / options.devices,
      faulted: faulted.attribution.total() / options.devices,
    },
    idleReceives: { clean: clean.attribution.idleReceives, faulted: faulted.attribution.idleReceives },
    extraByKind: Object.fromEntries(
      [...new Set([...Object.keys(faulted.byKind), ...Object.keys(clean.byKind)])]
        .map((kind) => [kind, ((faulted.byKind[kind] ?? 0) - (clean.byKind[kind] ?? 0)) / options.devices] as const)
        .filter(([, n]) => Math.abs(n) >= 0.001)
        .sort((a, b) => b[1] - a[1]),
    ),
    throttled: faulted.throttled,
  };
}

async function runOnce(
  options: StormOptions,
  faults: { stormMs: number; outageMs: number; retryAfterSeconds: number } | undefined,
): Promise<Run> {
  const simulator = await startGraphSimulator(options.simulatorOptions());
  const attribution = new StorageAttribution(options.devices);
  const pipeline = await startPipelineUnderTest(simulator, options.pipelineEnv, options.instances, {
    onStorageCall: attribution.observe,
    // BENCH_STORM_LOG=1: the instances' warnings and errors, and their lines about slots and poll rounds, as they come.
    ...(process.env.BENCH_STORM_LOG
      ? {
          onLog: (level: string, message: string, fields: unknown) => {
            if (level !== "info" || /slot|poll|pause|stall|late|round/i.test(message))
              console.log(
                `      [${new Date().toISOString().slice(17, 23)}] ${level} ${message} ${JSON.stringify(fields ?? {}).slice(0, 300)}`,
              );
          },
        }
      : {}),
    // A message whose function failed in the outage is tried again after host.json's 30 s, scaled as the window is.
    timeScaleDivisor: options.scale,
  });
  const devices = makeDevices(options.devices, "STORM");
  const indexOf = new Map(devices.map((d, i) => [d.serialNumber, i]));
  const affected = new Set<number>();
  const writes = Math.ceil(options.devices / CHUNK);
  const written = () => simulator.creates.filter((c) => c.tenantId === options.tenantId).length;
  try {
    let outage: Promise<{ from: number; to: number; shiftMs: number }> | undefined;
    if (faults) {
      // A third of the way through the writes: Graph answers every write 429 for the storm's length.
      simulator.injectFaults({
        kind: "status",
        status: 429,
        retryAfterSeconds: faults.retryAfterSeconds,
        match: { method: "POST", pathIncludes: "importedWindowsAutopilotDeviceIdentities" },
        after: Math.round(writes / 3),
        forMs: faults.stormMs,
      });
      // Two thirds through (devices in Graph): storage goes away for every instance.
      outage = pipeline
        .storageDownWhen(() => written() >= (2 * options.devices) / 3, faults.outageMs)
        .then(async (o) => ({ ...o, shiftMs: await pipeline.pacingShiftMs(options.tenantId) }));
    }
    const started = Date.now();
    const batchId = await pipeline.submit(options.tenantId, devices);
    const deadline = started + 10 * 60_000;
    // A line every 10 s while it runs, so a run that stalls says where.
    const progress = setInterval(() => {
      const throttled = simulator.requestLog.filter((r) => r.status === 429).length;
      console.log(
        `    ${faults ? "faulted" : "clean"} run at ${((Date.now() - started) / 1000).toFixed(0)} s: ${written()} devices in Graph, ${throttled} writes answered 429`,
      );
    }, 10_000);
    const done = await pipeline.waitFinal(batchId, deadline).finally(() => clearInterval(progress));
    await pipeline.waitDrained(deadline);
    if (faults && outage) {
      const stormFrom = simulator.requestLog.find((r) => r.status === 429)?.at;
      if (stormFrom !== undefined)
        cover(simulator, attribution, indexOf, { from: stormFrom, to: stormFrom + faults.stormMs, shiftMs: 0 }, affected);
      cover(simulator, attribution, indexOf, await outage, affected);
    }
    if (process.env.BENCH_STORM_TIMELINE) {
      // Per second of each run (clean and faulted): writes taken / answered 429, devices in Graph; and the tenant's schedule at the end.
      const line: string[] = [];
      for (let second = 0; second * 1000 < done.finishedAt - started; second++) {
        const inSecond = (at: number) => at >= started + second * 1000 && at < started + (second + 1) * 1000;
        const posts = simulator.requestLog.filter((r) => r.method === "POST" && inSecond(r.at));
        const created = simulator.creates.filter((c) => inSecond(c.at)).length;
        const reads = simulator.requestLog.filter((r) => r.method === "GET" && inSecond(r.at)).length;
        line.push(
          `${second}:${posts.filter((r) => r.status < 300).length}/${posts.filter((r) => r.status === 429).length}/${created}/${reads}`,
        );
      }
      console.log(`    timeline (second:writes taken/429/devices created/reads, the poll rounds') ${line.join(" ")}`);
      console.log(
        `    outage ${JSON.stringify(outage ? await outage : undefined)} started ${started}, shift at the end ${await pipeline.pacingShiftMs(options.tenantId)} ms`,
      );
      // Each chunk leader's queue calls, for the chunks written in the run's last quarter (where a late one shows; every chunk's with BENCH_STORM_TIMELINE=all).
      const lateFrom = process.env.BENCH_STORM_TIMELINE === "all" ? 0 : started + 0.75 * (done.finishedAt - started);
      for (const [leader, calls] of attribution.leaderCalls) {
        const lastWrite = simulator.creates.find((c) => indexOf.get(c.serialNumber) === leader)?.at ?? 0;
        if (lastWrite < lateFrom) continue;
        const rel = (at: number) => ((at - started) / 1000).toFixed(2);
        console.log(
          `    leader ${leader} written at ${rel(lastWrite)} s: ${calls.map((c) => `${rel(c.at)} ${c.call}${c.slotAt !== undefined ? ` slot ${rel(c.slotAt)}` : ""}`).join("; ")}`,
        );
      }
    }
    const perSerial = new Map<string, number>();
    for (const c of simulator.creates)
      if (c.tenantId === options.tenantId) perSerial.set(c.serialNumber, (perSerial.get(c.serialNumber) ?? 0) + 1);
    return {
      wallMs: done.finishedAt - started,
      lastWriteMs: Math.max(0, ...simulator.creates.filter((c) => c.tenantId === options.tenantId).map((c) => c.at - started)),
      attribution,
      imported: done.counts.imported ?? 0,
      failed: done.counts.failed ?? 0,
      duplicated: [...perSerial.values()].filter((n) => n > 1).length,
      throttled: simulator.requestLog.filter((r) => r.status === 429).length,
      affected,
      byKind: pipeline.storageByKind(),
    };
  } finally {
    await pipeline.stop();
    await simulator.stop();
  }
}

/** The chunk size the storm's pipeline runs with (config IMPORT_CHUNK_SIZE's default). */
const CHUNK = 100;

/**
 * The chunks a fault covered: not written when it began, and due (their leader's slot as last
 * sent or received before it began, moved by the tenant's shift then) before it ended.
 */
function cover(
  simulator: GraphSimulator,
  attribution: StorageAttribution,
  indexOf: Map<string, number>,
  fault: { from: number; to: number; shiftMs: number },
  affected: Set<number>,
): void {
  const written = new Set(simulator.creates.filter((c) => c.at < fault.from).map((c) => indexOf.get(c.serialNumber)));
  for (const [first, seen] of attribution.leaderSlots) {
    if (written.has(first)) continue;
    const slot = seen.filter((s) => s.at < fault.from).at(-1);
    if (!slot) continue;
    const due = slot.slotAt + Math.max(0, fault.shiftMs - slot.shiftAt);
    if (due <= fault.to) for (let d = first; d < first + slot.size; d++) affected.add(d);
  }
}
