import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** A loopback reverse proxy that counts every request it forwards: the pipeline's storage transactions. */
export interface CountingProxy {
  port: number;
  count(): number;
  reset(): void;
  stop(): Promise<void>;
}

export async function startCountingProxy(targetPort: number): Promise<CountingProxy> {
  let requests = 0;
  const server: Server = createServer((req, res) => {
    requests++;
    const upstream = request(
      { host: "127.0.0.1", port: targetPort, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    count: () => requests,
    reset: () => void (requests = 0),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
