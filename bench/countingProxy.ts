import { createServer, request, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** A loopback reverse proxy that counts every request it forwards: the pipeline's storage transactions. */
export interface CountingProxy {
  port: number;
  count(): number;
  /** The requests by kind (`GET table:imports entity`, `DELETE queue:device-imports message`, …), for finding where the cost is. */
  byKind(): Record<string, number>;
  /** The slowest answer in each second (epoch second → ms): where storage stalls. */
  slowestBySecond(): Map<number, number>;
  /** Every request as it ended: when it was sent (epoch ms), its kind, how long its answer took. */
  calls(): readonly ProxiedCall[];
  reset(): void;
  /**
   * Storage unreachable (true) or back (false): while down, every request's connection is
   * destroyed before it is forwarded (storage never sees it, so it is not counted), and the
   * connections open when it goes down are cut.
   */
  setDown(down: boolean): void;
  /** Called before each request is let through or refused: where a bench decides, at the pipeline's own pace, that storage goes away. */
  beforeEachRequest(hook: (() => void) | undefined): void;
  stop(): Promise<void>;
}

/** A forwarded request with both bodies, for a bench that attributes storage cost (stormRun.ts). */
export interface ObservedCall {
  method: string;
  url: string;
  requestBody: Buffer;
  status: number;
  responseBody: Buffer;
}

export interface ProxiedCall {
  at: number;
  kind: string;
  ms: number;
}

/** Names a storage request by method and resource, without ids: `POST table:$batch`, `GET queue:x messages`. */
export function requestKind(service: "queue" | "table", method: string, url: string): string {
  const path = decodeURIComponent(url.split("?")[0] ?? "")
    .split("/")
    .filter(Boolean)
    .slice(1); // drop the account
  const query = url.includes("?") ? url.slice(url.indexOf("?")) : "";
  if (service === "queue") {
    const [queue = "", messages, id] = path;
    const what = id ? "message" : messages ? "messages" : query.includes("comp=metadata") ? "metadata" : "queue";
    return `${method} queue:${queue} ${what}`;
  }
  const first = path[0] ?? "";
  if (first === "$batch") return `${method} table:$batch`;
  const table = first.replace(/\(.*$/, "");
  const what = /\(.+\)/.test(first) ? "entity" : query.includes("$filter") ? "query" : "table";
  // Which kind of row an entity request is about (device, counter shard, batch header…), by its RowKey's prefix.
  const row = /RowKey='([a-z]+)/.exec(first)?.[1];
  return `${method} table:${table} ${what}${row ? ` (${row})` : ""}`;
}

export async function startCountingProxy(
  targetPort: number,
  service: "queue" | "table",
  observe?: (call: ObservedCall) => void,
): Promise<CountingProxy> {
  let requests = 0;
  let kinds = new Map<string, number>();
  let slowest = new Map<number, number>();
  let calls: ProxiedCall[] = [];
  let down = false;
  let before: (() => void) | undefined;
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    before?.();
    if (down) {
      req.socket.destroy();
      return;
    }
    requests++;
    const kind = requestKind(service, req.method ?? "GET", req.url ?? "/");
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    const sent = Date.now();
    const requestChunks: Buffer[] = [];
    if (observe) req.on("data", (chunk: Buffer) => requestChunks.push(chunk));
    const upstream = request({ host: "127.0.0.1", port: targetPort, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      // Lost ETag races, counted apart by kind: each costs a re-read and a second try.
      if (answer.statusCode === 412) kinds.set(`412 ${kind}`, (kinds.get(`412 ${kind}`) ?? 0) + 1);
      const second = Math.floor(sent / 1000);
      slowest.set(second, Math.max(slowest.get(second) ?? 0, Date.now() - sent));
      calls.push({ at: sent, kind, ms: Date.now() - sent });
      if (observe) {
        const responseChunks: Buffer[] = [];
        answer.on("data", (chunk: Buffer) => responseChunks.push(chunk));
        answer.on("end", () =>
          observe({
            method: req.method ?? "GET",
            url: req.url ?? "/",
            requestBody: Buffer.concat(requestChunks),
            status: answer.statusCode ?? 0,
            responseBody: Buffer.concat(responseChunks),
          }),
        );
      }
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", () => res.destroy());
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
    byKind: () => Object.fromEntries([...kinds].sort((a, b) => b[1] - a[1])),
    slowestBySecond: () => slowest,
    calls: () => calls,
    reset: () => {
      requests = 0;
      calls = [];
      kinds = new Map();
      slowest = new Map();
    },
    beforeEachRequest(hook) {
      before = hook;
    },
    setDown(next) {
      down = next;
      if (down) for (const socket of sockets) socket.destroy();
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
