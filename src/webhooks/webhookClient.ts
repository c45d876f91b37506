import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
import { isAllowedHost, type AllowedHost } from "../model/callbackUrl.js";
import type { AttemptResult } from "../model/retrySchedule.js";
import { BlockedAddressError, literalAddressProblem, safeLookup } from "./safeLookup.js";

export interface WebhookPostOptions {
  timeoutMs: number;
  allowedHosts: readonly AllowedHost[];
  /** Replaces the system resolver behind the SSRF check (tests). */
  lookup?: LookupFunction;
}

export type WebhookPoster = (url: string, headers: Record<string, string>, body: string) => Promise<AttemptResult>;

/**
 * POSTs one webhook. Redirects are not followed (they would lead past the address check); the
 * answer's body is discarded, only the status counts. A host in WEBHOOK_ALLOWED_HOSTS skips the
 * address check (development and tests); every other host is checked after DNS resolution.
 */
export function createWebhookPoster(options: WebhookPostOptions): WebhookPoster {
  const checkedLookup = options.lookup ?? safeLookup();
  return (target, headers, body) =>
    new Promise<AttemptResult>((resolve) => {
      const url = new URL(target);
      const allowed = isAllowedHost(url, options.allowedHosts);
      if (!allowed) {
        const literal = literalAddressProblem(url.hostname);
        if (literal) return resolve({ kind: "refused", reason: literal });
        if (url.protocol !== "https:") return resolve({ kind: "refused", reason: "only https callbacks are delivered" });
      }
      const send = url.protocol === "https:" ? httpsRequest : httpRequest;
      const payload = Buffer.from(body, "utf8");
      const req = send(
        url,
        {
          method: "POST",
          headers: {
            ...headers,
            "content-type": "application/json",
            "content-length": String(payload.length),
            "user-agent": "autopilot-import-webhooks/1",
          },
          agent: false,
          ...(allowed ? {} : { lookup: checkedLookup }),
          timeout: options.timeoutMs,
        },
        (res) => {
          // Only the status counts; a receiver streaming an endless body must not hold the socket.
          res.destroy();
          clearTimeout(deadline);
          resolve({ kind: "response", status: res.statusCode ?? 0 });
        },
      );
      // `timeout` only covers idle sockets; the deadline bounds the whole exchange.
      const deadline = setTimeout(() => req.destroy(new TimeoutError()), options.timeoutMs);
      req.on("timeout", () => req.destroy(new TimeoutError()));
      req.on("error", (error) => {
        clearTimeout(deadline);
        if (error instanceof TimeoutError) resolve({ kind: "timeout" });
        else if (error instanceof BlockedAddressError) resolve({ kind: "refused", reason: error.message });
        else resolve({ kind: "connection-error", message: (error as NodeJS.ErrnoException).code ?? error.message });
      });
      req.end(payload);
    });
}

class TimeoutError extends Error {
  constructor() {
    super("webhook delivery timed out");
  }
}
