import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { dirname, join } from "node:path";

/** Azurite's documented development account (public, well-known: not a secret). */
const ACCOUNT = "devstoreaccount1";
const ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export interface RunningAzurite {
  connectionString: string;
  ports: { blob: number; queue: number; table: number };
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

function azuriteBin(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve("azurite/package.json")), "dist", "src", "azurite.js");
}

/**
 * Starts a real Azurite (queues, tables, and blobs, which the Functions host also wants) in memory
 * on free loopback ports, and resolves once all three services listen. Azurite has no API to
 * embed it, so it runs as a child process of this one.
 */
export async function startAzurite(options: { timeoutMs?: number } = {}): Promise<RunningAzurite> {
  // A port found free can be taken by another process before Azurite listens on it (many test
  // files start their own Azurite at once): such a start fails with EADDRINUSE and is tried again
  // on other ports.
  for (let tries = 1; ; tries++) {
    try {
      return await startAzuriteOnce(options);
    } catch (error) {
      if (tries >= START_TRIES || !/EADDRINUSE/.test(String(error))) throw error;
    }
  }
}

const START_TRIES = 3;

/** `count` different free ports: a port closed a moment ago can be handed out again at once. */
async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

async function startAzuriteOnce(options: { timeoutMs?: number }): Promise<RunningAzurite> {
  const [blob, queue, table] = await distinctFreePorts(3);
  const ports = { blob: blob!, queue: queue!, table: table! };
  const child = spawn(
    process.execPath,
    [
      ...(process.env.AZURITE_NODE_ARGS ? process.env.AZURITE_NODE_ARGS.split(" ") : []),
      azuriteBin(),
      "--inMemoryPersistence",
      "--disableTelemetry",
      "--skipApiVersionCheck",
      "--loose",
      "--blobHost",
      "127.0.0.1",
      "--blobPort",
      String(ports.blob),
      "--queueHost",
      "127.0.0.1",
      "--queuePort",
      String(ports.queue),
      "--tableHost",
      "127.0.0.1",
      "--tablePort",
      String(ports.table),
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  await waitForListening(child, options.timeoutMs ?? 30_000);
  const base = "http://127.0.0.1";
  return {
    ports,
    connectionString:
      `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${ACCOUNT_KEY};` +
      `BlobEndpoint=${base}:${ports.blob}/${ACCOUNT};QueueEndpoint=${base}:${ports.queue}/${ACCOUNT};TableEndpoint=${base}:${ports.table}/${ACCOUNT};`,
    stop: () => stopChild(child),
  };
}

function waitForListening(child: ChildProcess, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const seen = new Set<string>();
    let output = "";
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`Azurite did not start within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      for (const service of ["Blob", "Queue", "Table"]) {
        if (output.includes(`Azurite ${service} service is successfully listening`)) seen.add(service);
      }
      if (seen.size === 3) {
        clearTimeout(timer);
        child.stdout?.off("data", onData);
        child.stdout?.resume();
        child.stderr?.resume();
        resolve();
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`Azurite exited with code ${code} before it was ready:\n${output}`));
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill("SIGKILL"), 5_000);
    child.once("exit", () => {
      clearTimeout(force);
      resolve();
    });
    child.kill("SIGTERM");
  });
}
