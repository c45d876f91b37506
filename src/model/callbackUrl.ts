import { isIP } from "node:net";
import { classifyAddress } from "./addressPolicy.js";

/**
 * What a batch's callbackUrl may be. Pure: the literal host is judged here (at intake and again
 * before delivery); names are judged after DNS resolution by safeLookup.ts.
 */
export const CALLBACK_URL_MAX_LENGTH = 2048;

/** host or host:port entries of WEBHOOK_ALLOWED_HOSTS, lower-cased; IPv6 in brackets. */
export interface AllowedHost {
  host: string;
  port?: number;
}

export function parseAllowedHosts(setting: string | undefined): AllowedHost[] {
  if (!setting) return [];
  return setting
    .split(",")
    .map((entry) => entry.trim().toLowerCase())
    .filter((entry) => entry !== "")
    .map((entry) => {
      const url = new URL(`http://${entry}`);
      if (url.pathname !== "/" || url.username || url.password || url.search || url.hash) throw new Error(`'${entry}' is not host[:port]`);
      return { host: url.hostname, ...(url.port ? { port: Number(url.port) } : {}) };
    });
}

export function isAllowedHost(url: URL, allowed: readonly AllowedHost[]): boolean {
  const host = url.hostname.toLowerCase();
  const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
  return allowed.some((entry) => entry.host === host && (entry.port === undefined || entry.port === port));
}

/** Structure only (no policy): for the intake schema, whose message names the field. */
export function callbackUrlShapeProblem(value: string): string | undefined {
  if (value.length > CALLBACK_URL_MAX_LENGTH) return `must be at most ${CALLBACK_URL_MAX_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return "must be an absolute https URL";
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return "must be an https URL";
  if (url.username || url.password) return "must not hold credentials (user:password@); authenticate by the webhook signature";
  if (url.hash) return "must not have a #fragment";
  if (!url.hostname) return "must name a host";
  return undefined;
}

/**
 * The whole rule: the shape, https unless the host is allowed for development, and a literal
 * address (or localhost) only if it is public or allowed. Undefined when the URL may be used.
 */
export function callbackUrlProblem(value: string, allowed: readonly AllowedHost[]): string | undefined {
  const shape = callbackUrlShapeProblem(value);
  if (shape) return shape;
  const url = new URL(value);
  if (isAllowedHost(url, allowed)) return undefined;
  if (url.protocol !== "https:") return "must be an https URL";
  const host = url.hostname.toLowerCase();
  if (host === "localhost" || host.endsWith(".localhost") || host === "localhost.") return "must not point at this machine (localhost)";
  const literal = host.startsWith("[") ? host.slice(1, -1) : host;
  if (isIP(literal)) {
    const kind = classifyAddress(literal);
    if (kind !== "public") return `must not point at a ${kind} address`;
  }
  return undefined;
}

/** What the status shows of a callback URL: the host only, since paths and queries may hold secrets. */
export function callbackHost(value: string): string {
  try {
    return new URL(value).host;
  } catch {
    return "";
  }
}
