import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedWebhook {
  at: number;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** Whether webhook-signature verified against the secret, computed here with node:crypto alone. */
  signatureValid: boolean;
  answered: number;
}

export interface WebhookReceiver {
  /** host:port, for WEBHOOK_ALLOWED_HOSTS. */
  host: string;
  url(path: string): string;
  received: ReceivedWebhook[];
  stop(): Promise<void>;
}

/** Verifies a Standard Webhooks signature as a partner's receiver would, independently of the app's code. */
export function verifyStandardWebhook(secret: string, headers: IncomingHttpHeaders, body: string): boolean {
  const id = String(headers["webhook-id"] ?? "");
  const timestamp = String(headers["webhook-timestamp"] ?? "");
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const expected = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest();
  return String(headers["webhook-signature"] ?? "")
    .split(" ")
    .some((entry) => {
      const [version, signature] = entry.split(",");
      if (version !== "v1" || !signature) return false;
      const given = Buffer.from(signature, "base64");
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
}

/** A local HTTP receiver that answers the statuses given in turn (the last one from then on). */
export async function startWebhookReceiver(secret: () => string, statuses: readonly number[]): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const answered = statuses[Math.min(received.length, statuses.length - 1)]!;
      received.push({
        at: Date.now(),
        path: req.url ?? "",
        headers: req.headers,
        body,
        signatureValid: verifyStandardWebhook(secret(), req.headers, body),
        answered,
      });
      res.writeHead(answered).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    received,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
