/**
 * What reading and checking every hardware hash costs intake: the same 10,000-device CSV parsed
 * and validated (parseImportRequest, the whole pure intake path: decoding text, CSV, the zod
 * schema with every rule) with the checks, and with hashCheck=off. Storage writes are left out
 * on purpose: they do not depend on the checks and would only dilute the figure.
 */
import { DEFAULT_INTAKE_LIMITS } from "../src/model/limits.js";
import { parseImportRequest } from "../src/intake/parseImportRequest.js";
import { makeCsv, makeDevices } from "../test/support/devices.js";

const DEVICES = 10_000;
const RUNS = 7;

export interface HashCheckIntake {
  devices: number;
  runs: number;
  withChecksMs: number;
  hashCheckOffMs: number;
  /** withChecksMs ÷ hashCheckOffMs − 1, from the medians. */
  overhead: number;
}

export function measureHashCheckIntake(): HashCheckIntake {
  const body = makeCsv(makeDevices(DEVICES, "BENCH"));
  const limits = { ...DEFAULT_INTAKE_LIMITS, maxDevices: DEVICES };
  const once = (query: string) => {
    const started = performance.now();
    const outcome = parseImportRequest({ contentType: "text/csv", body, query: new URLSearchParams(query) }, limits);
    const ms = performance.now() - started;
    if (!outcome.ok || outcome.request.devices.length !== DEVICES)
      throw new Error(`bench: the batch was refused: ${JSON.stringify(outcome.ok ? "" : outcome.problem.detail)}`);
    return ms;
  };
  once("");
  once("hashCheck=off"); // warm-up: both schemas built, code optimised
  const on: number[] = [];
  const off: number[] = [];
  // Interleaved, so that a slower moment of a shared machine falls on both alike.
  for (let i = 0; i < RUNS; i++) {
    on.push(once(""));
    off.push(once("hashCheck=off"));
  }
  const withChecksMs = median(on);
  const hashCheckOffMs = median(off);
  return { devices: DEVICES, runs: RUNS, withChecksMs, hashCheckOffMs, overhead: withChecksMs / hashCheckOffMs - 1 };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function printHashCheckIntake(m: HashCheckIntake): void {
  console.log(
    `intake of ${m.devices} devices (median of ${m.runs}): ${m.withChecksMs.toFixed(0)} ms with hash checks, ${m.hashCheckOffMs.toFixed(0)} ms with hashCheck=off: ` +
      `hashCheckIntakeOverhead ${m.overhead.toFixed(3)}  target ≤ 0.10  ${m.overhead <= 0.1 ? "✓" : "✗"}`,
  );
}
