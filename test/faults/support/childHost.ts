import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { HostSettings } from "../../../src/dev/host/hostSettings.js";

const LAUNCHER = fileURLToPath(new URL("./runTs.mjs", import.meta.url));
const ENTRY = fileURLToPath(new URL("./devHostMain.ts", import.meta.url));

export type HostSettingsOverride = Partial<Omit<HostSettings, "queues">> & { queues?: Partial<HostSettings["queues"]> };

/** A development host running in a child process: the unit a fault test kills. */
export interface ChildHost {
  /** e.g. http://127.0.0.1:1234/api */
  api: string;
  pid: number;
  /** SIGKILL: no cleanup, no goodbye, as a crashed or evicted instance. Resolves once it is gone. */
  kill(): Promise<void>;
  /** SIGTERM: the host stops its pumps and server. */
  stop(): Promise<void>;
  /** Everything it logged, for a failing test's message. */
  output(): string;
}

/**
 * Starts a host whose settings are exactly `env` (plus PATH), so nothing leaks in from the test
 * runner's environment.
 */
export async function startChildHost(
  env: Record<string, string>,
  hostSettings: HostSettingsOverride = {},
  timeoutMs = 30_000,
): Promise<ChildHost> {
  const child = spawn(process.execPath, [LAUNCHER, ENTRY, JSON.stringify(hostSettings)], {
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stderr!.on("data", (chunk: Buffer) => void (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const api = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`child host did not start within ${timeoutMs} ms:\n${output}`)), timeoutMs);
    let stdout = "";
    const fail = (error: Error) => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(error);
    };
    child.stdout!.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const ready = /^\{"api":"([^"]+)"\}$/m.exec(stdout);
      if (ready) {
        clearTimeout(timer);
        resolve(ready[1]!);
      }
    });
    child.once("exit", (code) => fail(new Error(`child host exited (${code}) before it served:\n${output}`)));
  });
  return {
    api,
    pid: child.pid!,
    output: () => output,
    kill: () => signal(child, "SIGKILL", exited),
    stop: () => signal(child, "SIGTERM", exited),
  };
}

async function signal(child: ChildProcess, name: NodeJS.Signals, exited: Promise<void>): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill(name);
  await exited;
}
