import { createServer, request, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/**
 * What happens to the n-th request (counted from 1 since the proxy started):
 * - `pass`: forwarded;
 * - `refuse`: the connection is destroyed before anything is forwarded, so storage never saw it;
 * - `lose-answer`: forwarded and carried out, then the connection is destroyed before the answer
 *   reaches the app, so the app cannot know the write happened.
 */
export type ProxyAction = "pass" | "refuse" | "lose-answer";

/**
 * Storage that goes away for a while, as seen from the app: loopback HTTP proxies in front of
 * Azurite's queue and table ports, sharing one request count and one rule, so a test can cut
 * storage at the n-th request of an operation whatever service it goes to. Bench's
 * countingProxy is the pattern.
 */
export interface StorageChaos {
  /** Azurite's connection string with queues and tables through the proxies. */
  connectionString: string;
  /** Storage requests seen so far. */
  count(): number;
  /** Decides every later request; `cutOpen` also destroys connections the app holds open now. */
  setRule(rule: StorageRule, options?: { cutOpen?: boolean }): void;
  stop(): Promise<void>;
}

/** n counts every storage request since the start; `request` says where this one goes. */
export type StorageRule = (n: number, request: { service: "queue" | "table"; method: string; path: string }) => ProxyAction;

export async function startStorageChaos(azurite: {
  connectionString: string;
  ports: { queue: number; table: number };
}): Promise<StorageChaos> {
  let requests = 0;
  let rule: StorageRule = () => "pass";
  const sockets = new Set<Socket>();
  const queue = await startProxy(azurite.ports.queue, (method, path) => rule(++requests, { service: "queue", method, path }), sockets);
  const table = await startProxy(azurite.ports.table, (method, path) => rule(++requests, { service: "table", method, path }), sockets);
  return {
    connectionString: connectionStringVia(azurite.connectionString, { queue: queue.port, table: table.port }),
    count: () => requests,
    setRule(next, options = {}) {
      rule = next;
      if (options.cutOpen) for (const socket of sockets) socket.destroy();
    },
    async stop() {
      await Promise.all([queue.stop(), table.stop()]);
    },
  };
}

async function startProxy(
  targetPort: number,
  decide: (method: string, path: string) => ProxyAction,
  sockets: Set<Socket>,
): Promise<{ port: number; stop(): Promise<void> }> {
  const server: Server = createServer((req: IncomingMessage, res) => {
    const action = decide(req.method ?? "GET", decodeURIComponent(req.url ?? "/"));
    if (action === "refuse") {
      req.socket.destroy();
      return;
    }
    const upstream = request({ host: "127.0.0.1", port: targetPort, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      if (action === "lose-answer") {
        answer.resume();
        answer.on("end", () => req.socket.destroy());
        return;
      }
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", () => req.socket.destroy());
    req.pipe(upstream);
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Azurite's connection string with its queue and/or table endpoint moved to proxies. */
export function connectionStringVia(connectionString: string, ports: { queue?: number; table?: number }): string {
  let result = connectionString;
  if (ports.queue !== undefined) result = result.replace(/(QueueEndpoint=http:\/\/127\.0\.0\.1:)\d+/, `$1${ports.queue}`);
  if (ports.table !== undefined) result = result.replace(/(TableEndpoint=http:\/\/127\.0\.0\.1:)\d+/, `$1${ports.table}`);
  return result;
}
