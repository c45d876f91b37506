import type { TokenCredential } from "@azure/identity";
import type { ImportedDeviceCreate, ImportedDeviceIdentity } from "./importedDevice.js";
import { parseRetryAfterMs } from "./retryAfter.js";
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { recordGraphRequest, type GraphOperation } from "../telemetry/metrics.js";

// Looked up per call, not kept: a tracer taken before telemetry starts would stay a no-op.
const tracer = () => trace.getTracer("autopilot-import");

export const GRAPH_SCOPE = "https://graph.microsoft.com/.default";
const COLLECTION = "deviceManagement/importedWindowsAutopilotDeviceIdentities";
/** Graph's largest page for this collection: one read answers for up to this many devices. */
export const LIST_PAGE_SIZE = 999;

export interface ImportedDevicePage {
  value: ImportedDeviceIdentity[];
  "@odata.nextLink"?: string;
}

/** What a Graph call came to. Errors are values, not exceptions: the worker decides what each means. */
export type GraphResult<T> =
  | { kind: "ok"; status: number; body: T }
  | { kind: "http-error"; status: number; code?: string; message?: string; retryAfterMs?: number }
  | { kind: "network-error"; message: string };

export interface GraphClientOptions {
  baseUrl: string;
  apiVersion: string;
  credential: TokenCredential;
  timeoutMs: number;
}

/**
 * A thin client over fetch for the few calls the pipeline makes. Retries are deliberately not
 * done here: a retry must outlive the function invocation, so the worker reschedules through
 * the queue instead of waiting in-process (which is also why the Graph SDK's retry handler is not used).
 */
export class GraphClient {
  constructor(private readonly options: GraphClientOptions) {}

  createImportedDevice(tenantId: string, device: ImportedDeviceCreate): Promise<GraphResult<ImportedDeviceIdentity>> {
    return this.call("create", tenantId, "POST", COLLECTION, device);
  }

  getImportedDevice(tenantId: string, id: string): Promise<GraphResult<ImportedDeviceIdentity>> {
    return this.call("get", tenantId, "GET", `${COLLECTION}/${encodeURIComponent(id)}`);
  }

  /** One page of the tenant's imported records; pass the previous page's @odata.nextLink to go on. */
  listImportedDevices(tenantId: string, nextLink?: string): Promise<GraphResult<ImportedDevicePage>> {
    return this.call("list", tenantId, "GET", nextLink ?? `${COLLECTION}?$top=${LIST_PAGE_SIZE}`);
  }

  /**
   * The tenant's imported record with this importId, if any. Graph documents no filter on this
   * collection, so the pages are walked; it is only asked when a create's outcome is in doubt.
   */
  async findImportedDeviceByImportId(tenantId: string, importId: string): Promise<GraphResult<ImportedDeviceIdentity | undefined>> {
    let nextLink: string | undefined;
    do {
      const page = await this.listImportedDevices(tenantId, nextLink);
      if (page.kind !== "ok") return page;
      const match = page.body.value.find((record) => record.importId === importId);
      if (match) return { kind: "ok", status: page.status, body: match };
      nextLink = page.body["@odata.nextLink"];
    } while (nextLink);
    return { kind: "ok", status: 200, body: undefined };
  }

  /** Asks Intune to sync Autopilot devices now: 204; 409 while a sync runs; 429 within 10 minutes of the last. */
  syncAutopilotSettings(tenantId: string): Promise<GraphResult<undefined>> {
    return this.call("sync", tenantId, "POST", "deviceManagement/windowsAutopilotSettings/sync");
  }

  deleteImportedDevice(tenantId: string, id: string): Promise<GraphResult<undefined>> {
    return this.call("delete", tenantId, "DELETE", `${COLLECTION}/${encodeURIComponent(id)}`);
  }

  /**
   * Every call is one client span and one latency sample (by operation and status), whatever
   * its outcome: the span is the Graph dependency in Application Insights, since the distro's
   * HTTP instrumentation does not see fetch.
   */
  private call<T>(operation: GraphOperation, tenantId: string, method: string, path: string, body?: unknown): Promise<GraphResult<T>> {
    return tracer().startActiveSpan(`graph ${operation}`, { kind: SpanKind.CLIENT, attributes: { "graph.operation": operation, "http.request.method": method } }, async (span) => {
      const started = performance.now();
      try {
        const result = await this.send<T>(tenantId, method, path, body);
        const status = result.kind === "network-error" ? "network-error" : result.status;
        recordGraphRequest(operation, status, performance.now() - started);
        if (status !== "network-error") span.setAttribute("http.response.status_code", status);
        if (result.kind !== "ok") span.setStatus({ code: SpanStatusCode.ERROR, message: result.kind === "http-error" ? (result.code ?? String(result.status)) : "network error" });
        return result;
      } finally {
        span.end();
      }
    });
  }

  private async send<T>(tenantId: string, method: string, path: string, body?: unknown): Promise<GraphResult<T>> {
    let token: string;
    try {
      const accessToken = await this.options.credential.getToken(GRAPH_SCOPE, { tenantId });
      if (!accessToken) return { kind: "network-error", message: "the credential returned no token" };
      token = accessToken.token;
    } catch (error) {
      return { kind: "network-error", message: `token request failed: ${(error as Error).message}` };
    }
    let response: Response;
    try {
      const absolute = /^https?:\/\//.test(path);
      // A nextLink is followed only on Graph's own host: the token must never go anywhere else.
      if (absolute && !path.startsWith(`${this.options.baseUrl}/`)) return { kind: "network-error", message: "refusing to follow a link off the Graph host" };
      const url = absolute ? path : `${this.options.baseUrl}/${this.options.apiVersion}/${path}`;
      response = await fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          accept: "application/json",
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch (error) {
      return { kind: "network-error", message: describeFetchError(error) };
    }
    const text = await response.text().catch(() => "");
    if (response.ok) {
      return { kind: "ok", status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
    }
    const graphError = parseGraphError(text);
    const retryAfterMs = parseRetryAfterMs(response.headers.get("retry-after"));
    return {
      kind: "http-error",
      status: response.status,
      ...graphError,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    };
  }
}

function parseGraphError(text: string): { code?: string; message?: string } {
  try {
    const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    const code = typeof parsed.error?.code === "string" ? parsed.error.code : undefined;
    const message = typeof parsed.error?.message === "string" ? parsed.error.message : undefined;
    return { ...(code ? { code } : {}), ...(message ? { message } : {}) };
  } catch {
    return {};
  }
}

function describeFetchError(error: unknown): string {
  const e = error as Error & { cause?: { code?: string; message?: string } };
  if (e.name === "TimeoutError") return "request timed out";
  return e.cause?.code ? `${e.message} (${e.cause.code})` : e.message;
}
