import { randomUUID } from "node:crypto";
import type { TokenCredential } from "@azure/identity";
import type { DeviceManagement as BetaDeviceManagement } from "@microsoft/microsoft-graph-types-beta";
import type { DeviceManagement as V1DeviceManagement } from "@microsoft/microsoft-graph-types";
import type { WindowsAutopilotDeviceIdentity as V1AutopilotDevice } from "@microsoft/microsoft-graph-types";
import {
  type AutopilotDeviceIdentity,
  type AutopilotDeviceProperties,
  type ImportedDeviceCreate,
  type ImportedDeviceIdentity,
} from "./importedDevice.js";
import { parseRetryAfterMs } from "./retryAfter.js";
import { parseGraphError } from "./graphErrorBody.js";
import { adminConsentUrl, classifyTokenError, type TenantAccessProblem } from "./tokenErrors.js";
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { recordGraphRequest, type GraphOperation } from "../telemetry/metrics.js";
import { errorMessage } from "../model/errorMessage.js";
import { sameSerialNumber } from "../model/hashRules.js";

// Looked up per call, not kept: a tracer taken before telemetry starts would stay a no-op.
const tracer = () => trace.getTracer("autopilot-import");

export const GRAPH_SCOPE = "https://graph.microsoft.com/.default";
const COLLECTION = "deviceManagement/importedWindowsAutopilotDeviceIdentities";
/** Graph's largest page for this collection: one read answers for up to this many devices. */
export const LIST_PAGE_SIZE = 999;
/**
 * A walk of the collection stops after this many pages (about 200,000 records), and on a
 * nextLink it has already followed: a list's nextLink has been seen to repeat for ever
 * (microsoft-graph-docs issue #8186), and an unbounded walk would spend the tenant's read budget.
 */
export const MAX_LIST_PAGES = 200;

// Autopilot sync lives on windowsAutopilotSettings, which only beta has (msgraph-metadata's
// v1.0 CSDL has no such entity set; v1.0 answers 400). These two lines fail the build if
// Microsoft's type packages ever say otherwise, so the decision below is revisited then.
type SyncIsBetaOnly = "windowsAutopilotSettings" extends keyof V1DeviceManagement ? never : true;
type SyncExistsOnBeta = "windowsAutopilotSettings" extends keyof BetaDeviceManagement ? true : never;
const syncOnBeta: SyncIsBetaOnly & SyncExistsOnBeta = true;
export const SYNC_API_VERSION = syncOnBeta ? "beta" : "v1.0";

const AUTOPILOT_COLLECTION = "deviceManagement/windowsAutopilotDeviceIdentities";
// The Autopilot device's profile assignment status is a beta property (the v1.0 type has none);
// these lines fail the build if the type packages ever say otherwise.
type ProfileStatusIsBetaOnly = "deploymentProfileAssignmentStatus" extends keyof V1AutopilotDevice ? never : true;
const profileOnBeta: ProfileStatusIsBetaOnly = true;
export const AUTOPILOT_API_VERSION = profileOnBeta ? "beta" : "v1.0";

export interface AutopilotDevicePage {
  value: AutopilotDeviceIdentity[];
  "@odata.nextLink"?: string;
}

/** `contains(serialNumber,'…')`, the one filter Graph documents on the Autopilot device collection; quotes doubled. */
export function serialContainsFilter(text: string): string {
  return `contains(serialNumber,'${text.replace(/'/g, "''")}')`;
}

export interface ImportedDevicePage {
  value: ImportedDeviceIdentity[];
  "@odata.nextLink"?: string;
}

/**
 * Which call an outcome came from: the id this client sent (`client-request-id`, fresh for every
 * call) and the one Graph gave its answer (`request-id`, absent when no answer came). Both go on
 * the device's outcome and in the log line, so a failed import can be traced in a support case.
 */
export interface CallTrace {
  clientRequestId: string;
  requestId?: string;
}

/** What a Graph call came to. Errors are values, not exceptions: the worker decides what each means. */
export type GraphResult<T> =
  | { kind: "ok"; status: number; body: T; trace?: CallTrace }
  | { kind: "http-error"; status: number; code?: string; message?: string; retryAfterMs?: number; trace?: CallTrace }
  | { kind: "network-error"; message: string; trace?: CallTrace }
  /** Entra ID will not issue a token for this tenant (no consent, no such tenant): retrying cannot help. */
  | { kind: "tenant-access"; problem: TenantAccessProblem; message: string; adminConsentUrl?: string; trace?: CallTrace };

export type GraphFailureResult = Exclude<GraphResult<unknown>, { kind: "ok" }>;

/** The tenant's imported records walked page by page; `complete` when the walk reached the last page. */
export type WalkResult = { kind: "ok"; complete: boolean; pages: number; trace?: CallTrace } | GraphFailureResult;

export interface GraphClientOptions {
  baseUrl: string;
  apiVersion: string;
  credential: TokenCredential;
  timeoutMs: number;
  /** The app registration's client id, for the admin-consent link a refused tenant is given. */
  appId?: string;
}

/**
 * A thin client over fetch for the few calls the pipeline makes. Retries are deliberately not
 * done here: a retry must outlive the function invocation, so the worker reschedules through
 * the queue instead of waiting in-process (which is also why the Graph SDK's retry handler is not
 * used). The one exception is a 401, which gets one fresh token before it counts.
 */
export class GraphClient {
  constructor(private readonly options: GraphClientOptions) {}

  createImportedDevice(tenantId: string, device: ImportedDeviceCreate): Promise<GraphResult<ImportedDeviceIdentity>> {
    return this.call("create", tenantId, "POST", COLLECTION, device);
  }

  /**
   * Graph's import action: many devices in one request, which Intune's throttle counts as one
   * write. Answered 200 with the records (`value`) as documented, or 204 / an empty body as some
   * tenants do (facts sheet, "The import action, in practice"): then `body` is undefined.
   */
  importDevices(
    tenantId: string,
    devices: readonly ImportedDeviceCreate[],
  ): Promise<GraphResult<{ value?: ImportedDeviceIdentity[] } | undefined>> {
    return this.call("import", tenantId, "POST", `${COLLECTION}/import`, { importedWindowsAutopilotDeviceIdentities: devices });
  }

  getImportedDevice(tenantId: string, id: string): Promise<GraphResult<ImportedDeviceIdentity>> {
    return this.call("get", tenantId, "GET", `${COLLECTION}/${encodeURIComponent(id)}`);
  }

  /** One page of the tenant's imported records; pass the previous page's @odata.nextLink to go on. */
  listImportedDevices(tenantId: string, nextLink?: string): Promise<GraphResult<ImportedDevicePage>> {
    return this.call("list", tenantId, "GET", nextLink ?? `${COLLECTION}?$top=${LIST_PAGE_SIZE}`);
  }

  /**
   * Every imported record of the tenant, a page at a time, bounded: at most MAX_LIST_PAGES pages,
   * and a nextLink already followed ends the walk. A link to the page just read (the repeat seen
   * in real tenants) means there is nothing more, so the walk is complete; a link back to an
   * earlier page or the page cap leaves it incomplete, and nobody may conclude from an
   * incomplete walk that a record is gone.
   */
  walkImportedDevices(tenantId: string, onPage: (records: ImportedDeviceIdentity[], trace?: CallTrace) => void): Promise<WalkResult> {
    return this.walk((link) => this.listImportedDevices(tenantId, link), onPage);
  }

  /** One page of the tenant's registered Autopilot devices (beta), optionally those whose serial number contains `serialContains`. */
  listAutopilotDevices(tenantId: string, serialContains?: string, nextLink?: string): Promise<GraphResult<AutopilotDevicePage>> {
    const first =
      serialContains === undefined
        ? AUTOPILOT_COLLECTION
        : `${AUTOPILOT_COLLECTION}?$filter=${encodeURIComponent(serialContainsFilter(serialContains))}`;
    return this.call("listAutopilot", tenantId, "GET", nextLink ?? first, undefined, AUTOPILOT_API_VERSION);
  }

  /** The Autopilot devices a list returns, walked with the same bounds as the imported records (the repeated nextLink was seen on exactly this collection). */
  walkAutopilotDevices(
    tenantId: string,
    serialContains: string | undefined,
    onPage: (devices: AutopilotDeviceIdentity[], trace?: CallTrace) => void,
  ): Promise<WalkResult> {
    return this.walk((link) => this.listAutopilotDevices(tenantId, serialContains, link), onPage);
  }

  /** `POST …/windowsAutopilotDeviceIdentities/{id}/updateDeviceProperties` → 204. */
  updateAutopilotDeviceProperties(tenantId: string, id: string, properties: AutopilotDeviceProperties): Promise<GraphResult<undefined>> {
    return this.call(
      "updateAutopilot",
      tenantId,
      "POST",
      `${AUTOPILOT_COLLECTION}/${encodeURIComponent(id)}/updateDeviceProperties`,
      properties,
      AUTOPILOT_API_VERSION,
    );
  }

  /** `DELETE …/windowsAutopilotDeviceIdentities/{id}` → 200/204: deregisters the device (refused while it is enrolled in Intune). */
  deleteAutopilotDevice(tenantId: string, id: string): Promise<GraphResult<undefined>> {
    return this.call(
      "deleteAutopilot",
      tenantId,
      "DELETE",
      `${AUTOPILOT_COLLECTION}/${encodeURIComponent(id)}`,
      undefined,
      AUTOPILOT_API_VERSION,
    );
  }

  private async walk<T>(
    list: (link: string | undefined) => Promise<GraphResult<{ value: T[]; "@odata.nextLink"?: string }>>,
    onPage: (items: T[], trace?: CallTrace) => void,
  ): Promise<WalkResult> {
    const followed = new Set<string>();
    let link: string | undefined;
    let pages = 0;
    for (;;) {
      const page = await list(link);
      if (page.kind !== "ok") return page;
      pages++;
      onPage(page.body.value ?? [], page.trace);
      const next = page.body["@odata.nextLink"];
      const trace = page.trace ? { trace: page.trace } : {};
      if (!next) return { kind: "ok", complete: true, pages, ...trace };
      if (next === link) return { kind: "ok", complete: true, pages, ...trace };
      if (followed.has(next) || pages >= MAX_LIST_PAGES) return { kind: "ok", complete: false, pages, ...trace };
      if (link) followed.add(link);
      link = next;
    }
  }

  /** Where an administrator of the tenant grants this app consent; undefined when the app id is not known. */
  consentUrlFor(tenantId: string): string | undefined {
    return adminConsentUrl(tenantId, this.options.appId);
  }

  /**
   * The tenant's imported records with this serial number (trimmed, case-insensitive, as Intune
   * compares them), from a bounded walk of the collection: Graph documents no filter on it.
   */
  async findImportedDevicesBySerial(
    tenantId: string,
    serialNumber: string,
  ): Promise<GraphResult<{ records: ImportedDeviceIdentity[]; complete: boolean }>> {
    const records: ImportedDeviceIdentity[] = [];
    const walk = await this.walkImportedDevices(tenantId, (page) => {
      for (const record of page) if (sameSerialNumber(record.serialNumber, serialNumber)) records.push(record);
    });
    if (walk.kind !== "ok") return walk;
    return { kind: "ok", status: 200, body: { records, complete: walk.complete }, ...(walk.trace ? { trace: walk.trace } : {}) };
  }

  /** Asks Intune to sync Autopilot devices now: 204; 409 while a sync runs; 429 within 10 minutes of the last. Always on beta. */
  syncAutopilotSettings(tenantId: string): Promise<GraphResult<undefined>> {
    return this.call("sync", tenantId, "POST", "deviceManagement/windowsAutopilotSettings/sync", undefined, SYNC_API_VERSION);
  }

  deleteImportedDevice(tenantId: string, id: string): Promise<GraphResult<undefined>> {
    return this.call("delete", tenantId, "DELETE", `${COLLECTION}/${encodeURIComponent(id)}`);
  }

  /**
   * Every call is one client span and one latency sample (by operation and status), whatever
   * its outcome: the span is the Graph dependency in Application Insights, since the distro's
   * HTTP instrumentation does not see fetch.
   */
  private call<T>(
    operation: GraphOperation,
    tenantId: string,
    method: string,
    path: string,
    body?: unknown,
    apiVersion?: string,
  ): Promise<GraphResult<T>> {
    return tracer().startActiveSpan(
      `graph ${operation}`,
      { kind: SpanKind.CLIENT, attributes: { "graph.operation": operation, "http.request.method": method } },
      async (span) => {
        const started = performance.now();
        try {
          const result = await this.send<T>(tenantId, method, path, body, apiVersion ?? this.options.apiVersion);
          const status = result.kind === "http-error" || result.kind === "ok" ? result.status : "network-error";
          recordGraphRequest(operation, status, performance.now() - started);
          if (status !== "network-error") span.setAttribute("http.response.status_code", status);
          if (result.trace) {
            span.setAttribute("graph.client_request_id", result.trace.clientRequestId);
            if (result.trace.requestId) span.setAttribute("graph.request_id", result.trace.requestId);
          }
          if (result.kind !== "ok")
            span.setStatus({
              code: SpanStatusCode.ERROR,
              message: result.kind === "http-error" ? (result.code ?? String(result.status)) : result.kind,
            });
          return result;
        } finally {
          span.end();
        }
      },
    );
  }

  private async send<T>(tenantId: string, method: string, path: string, body: unknown, apiVersion: string): Promise<GraphResult<T>> {
    const absolute = /^https?:\/\//.test(path);
    // A nextLink is followed only on Graph's own host: the token must never go anywhere else.
    if (absolute && !path.startsWith(`${this.options.baseUrl}/`)) {
      return { kind: "network-error", message: "refusing to follow a link off the Graph host", trace: { clientRequestId: randomUUID() } };
    }
    const url = absolute ? path : `${this.options.baseUrl}/${apiVersion}/${path}`;
    const first = await this.attempt<T>(tenantId, method, url, body);
    // A token can be revoked or expire in flight: one fresh token (with the claims Graph asked
    // for, when it sent a challenge) before the 401 counts.
    if (first.result.kind === "http-error" && first.result.status === 401)
      return (await this.attempt<T>(tenantId, method, url, body, first.claims)).result;
    return first.result;
  }

  /** One HTTP exchange with a fresh client-request-id; a 401's claims challenge comes back beside the result. */
  private async attempt<T>(
    tenantId: string,
    method: string,
    url: string,
    body: unknown,
    claims?: string,
  ): Promise<{ result: GraphResult<T>; claims?: string }> {
    const trace: CallTrace = { clientRequestId: randomUUID() };
    let token: string;
    try {
      const accessToken = await this.options.credential.getToken(GRAPH_SCOPE, { tenantId, ...(claims ? { claims } : {}) });
      if (!accessToken) return { result: { kind: "network-error", message: "the credential returned no token", trace } };
      token = accessToken.token;
    } catch (error) {
      const refused = classifyTokenError(error);
      if (refused) {
        const consentUrl = adminConsentUrl(tenantId, this.options.appId);
        return {
          result: {
            kind: "tenant-access",
            problem: refused.problem,
            message: `${refused.aadsts}: ${firstLine(error)}`,
            ...(consentUrl ? { adminConsentUrl: consentUrl } : {}),
            trace,
          },
        };
      }
      return { result: { kind: "network-error", message: `token request failed: ${firstLine(error)}`, trace } };
    }
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          accept: "application/json",
          "client-request-id": trace.clientRequestId,
          "return-client-request-id": "true",
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch (error) {
      return { result: { kind: "network-error", message: describeFetchError(error), trace } };
    }
    const requestId = response.headers.get("request-id");
    if (requestId) trace.requestId = requestId;
    const text = await response.text().catch(() => "");
    if (response.ok) {
      try {
        return { result: { kind: "ok", status: response.status, body: (text ? JSON.parse(text) : undefined) as T, trace } };
      } catch {
        // A 2xx whose body did not arrive whole: the call may have done its work, so it is not an ok.
        return { result: { kind: "network-error", message: `Graph answered ${response.status} with a body that is not JSON`, trace } };
      }
    }
    const retryAfterMs = parseRetryAfterMs(response.headers.get("retry-after"));
    const claimsChallenge = response.status === 401 ? challengeClaims(response.headers.get("www-authenticate")) : undefined;
    return {
      result: {
        kind: "http-error",
        status: response.status,
        ...parseGraphError(text),
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
        trace,
      },
      ...(claimsChallenge ? { claims: claimsChallenge } : {}),
    };
  }
}

/** The `claims` of a CAE challenge (`Bearer …, claims="<base64>"`), decoded, for the next token request. */
function challengeClaims(header: string | null): string | undefined {
  const encoded = header ? /claims="([^"]+)"/.exec(header)?.[1] : undefined;
  if (!encoded) return undefined;
  try {
    return Buffer.from(encoded, "base64").toString("utf8");
  } catch {
    return undefined;
  }
}

/** Token errors carry a whole trace id list and a help URL after the first line; the first says what happened. */
function firstLine(error: unknown): string {
  const message = errorMessage(error);
  return message.split("\n")[0]!.slice(0, 500);
}

function describeFetchError(error: unknown): string {
  const e = error as Error & { cause?: { code?: string; message?: string } };
  if (e.name === "TimeoutError") return "request timed out";
  return e.cause?.code ? `${e.message} (${e.cause.code})` : e.message;
}
