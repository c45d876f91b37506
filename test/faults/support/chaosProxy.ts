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
 * A loopback HTTP proxy in front of Azurite (one service port) that the test controls: storage
 * that goes away for a while, as seen from the app. Bench's countingProxy is the pattern.
 */
export interface ChaosProxy {
  port: number;
  /** Requests seen so far. */
  count(): number;
  /** Decides every later request; `cutOpen` also destroys connections the app holds open now. */
  setRule(rule: (n: number) => ProxyAction, options?: { cutOpen?: boolean }): void;
  stop(): Promise<void>;
}

export async function startChaosProxy(targetPort: number): Promise<ChaosProxy> {
  let requests = 0;
  let rule: (n: number) => ProxyAction = () => "pass";
  const sockets = new Set<Socket>();
  const server: Server = createServer((req: IncomingMessage, res) => {
    const action = rule(++requests);
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
    count: () => requests,
    setRule(next, options = {}) {
      rule = next;
      if (options.cutOpen) for (const socket of sockets) socket.destroy();
    },
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
