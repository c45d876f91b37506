import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { authenticate, mayRead, mayWrite, type Principal } from "./auth.js";
import { FaultBook, type FaultRule } from "./faults.js";
import { defaultErrorCode, graphErrorBody, type RequestIds } from "./graphErrors.js";
import { ImportedDeviceService, snapshot, type CreateEntry, type OperationRequest } from "./handlers.js";
import { PLAIN_JSON, readBody, sleep, writeReply, type Reply, type RequestBody } from "./httpIo.js";
import { SimulatedImportStore } from "./importStore.js";
import { INTUNE_FORBIDDEN_CODE, INTUNE_FORBIDDEN_TEXT, intuneMessage, type IntuneTrace } from "./intuneErrors.js";
import { PENDING_FROM_FRACTION, resolveOptions, type ResolvedOptions, type SimulatorOptions } from "./options.js";
import type { ImportedDeviceRecord } from "./records.js";
import { allowedMethods, resolveRoute, type Route } from "./routes.js";
import { SYNC_COOLDOWN_MS } from "./syncPolicy.js";
import { TenantAppThrottle } from "./throttle.js";
import { importActionSize, serialNumbersIn } from "./validation.js";
import { AutopilotDeviceStore, autopilotDeviceBody } from "./autopilotDevices.js";
import { AutopilotDeviceService } from "./autopilotHandlers.js";
import { hashKey, serialKey } from "./deviceKeys.js";
import { errorMessage } from "../../model/errorMessage.js";

export interface RequestLogEntry {
  method: string;
  /** The request target as sent: path and query. */
  path: string;
  /** 0 when the socket was dropped without a response. */
  status: number;
  tenantId?: string;
  appId?: string;
  /** The client-request-id the client sent, if it sent one (Graph answers with its own otherwise). */
  clientRequestId?: string;
  at: number;
}

export interface GraphSimulator {
  /** e.g. "http://127.0.0.1:54321" (no trailing slash); clients call `${url}/v1.0/deviceManagement/...` or `${url}/beta/...`. */
  readonly url: string;
  stop(): Promise<void>;
  /** A pre-existing Autopilot registration: a later import of it fails 806 in this tenant, 808 in another. */
  registerDevice(
    tenantId: string,
    device: { serialNumber?: string; hardwareIdentifier?: string; groupTag?: string; enrollmentState?: "enrolled" | "notContacted" },
  ): void;
  /**
   * A deployment profile that targets the tenant's Autopilot devices with this group tag
   * (case-insensitive), or all of them without one: each becomes `pending`, then
   * `assignedInSync` after profileAssignDelayMs. Without any, no device ever gets a profile.
   */
  targetProfile(tenantId: string, target?: { groupTag?: string }): void;
  /** The tenant's registered Autopilot devices as the service holds them (beta shape, profile status as of now). */
  autopilotDevices(tenantId: string): Record<string, unknown>[];
  /** Marks the tenant's Autopilot device(s) with this serial number enrolled (a delete is then refused) or not. */
  setEnrollmentState(tenantId: string, serialNumber: string, state: "enrolled" | "notContacted"): void;
  /** An import of this hash settles to error with this code (default 802 InvalidZtdHardwareHash). */
  rejectHash(hardwareIdentifier: string, code?: number): void;
  injectFaults(rule: FaultRule): void;
  clearFaults(): void;
  /** Every create the simulator accepted (its own record: who created what), for tests that prove nothing is lost or duplicated. */
  readonly creates: ReadonlyArray<CreateEntry>;
  /** Oldest entries are discarded past REQUEST_LOG_LIMIT so a long-running `npm start` does not grow without bound. */
  readonly requestLog: ReadonlyArray<RequestLogEntry>;
  /**
   * Current imported records in that tenant, settled as of now, in creation order: what the
   * service holds, i.e. the client's own importId, productKey and hardwareIdentifier whatever
   * the answers show, and every record whatever the list lag.
   */
  records(tenantId: string): ImportedDeviceRecord[];
}

export const REQUEST_LOG_LIMIT = 100_000;

// What Graph sends with a 401, so clients that parse the challenge see a familiar one.
const BEARER_CHALLENGE =
  'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"';

/** What an error reply needs to know about the request it answers. */
interface CallContext {
  ids: RequestIds;
  /** The URL the client called, which Intune quotes in its messages. */
  url: string;
}

export async function startGraphSimulator(options?: SimulatorOptions): Promise<GraphSimulator> {
  const simulator = new RunningSimulator(resolveOptions(options));
  await simulator.listen();
  return simulator;
}

/**
 * The HTTP front of the simulated Graph. Each request goes through, in order: auth (401 is
 * free, as the token names no tenant to charge), injected faults (they stand for failures in
 * front of Graph, so status/drop faults use no throttle budget), the throttle (every
 * authenticated request that reaches Graph counts, whatever it is answered), routing and
 * permission checks, then the operation. Latency is added to every answer.
 */
class RunningSimulator implements GraphSimulator {
  readonly creates: CreateEntry[] = [];
  readonly requestLog: RequestLogEntry[] = [];
  private readonly store = new SimulatedImportStore();
  private readonly autopilot: AutopilotDeviceStore;
  private autopilotService: AutopilotDeviceService | undefined;
  private readonly faults = new FaultBook();
  private readonly writeThrottle: TenantAppThrottle;
  private readonly readThrottle: TenantAppThrottle;
  private readonly server: Server;
  private service: ImportedDeviceService | undefined;
  private baseUrl = "";
  // Counts throttling 429s so that which of them lack Retry-After is deterministic.
  private throttled429s = 0;

  constructor(private readonly options: ResolvedOptions) {
    this.writeThrottle = new TenantAppThrottle(options.throttle);
    this.readThrottle = new TenantAppThrottle(options.readThrottle);
    this.autopilot = new AutopilotDeviceStore({
      profileDelayMs: options.profileAssignDelayMs * options.timeScale,
      listLagMs: options.listLagMs * options.timeScale,
    });
    // A completed import registers its Autopilot device, whose id is the import's deviceRegistrationId.
    this.store.onRegistered = (stored, id) =>
      this.autopilot.add(
        stored.tenantId,
        {
          id,
          serialNumber: stored.record.serialNumber,
          hashKey: stored.hashKey,
          groupTag: stored.record.groupTag,
          userPrincipalName: stored.record.assignedUserPrincipalName,
        },
        stored.settleAt,
      );
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  get url(): string {
    return this.baseUrl;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.options.port, "127.0.0.1", () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    const { port } = this.server.address() as AddressInfo;
    this.baseUrl = `http://127.0.0.1:${port}`;
    const { settleDelayMs, timeScale, pageSize, passThroughPending, listLagMs, echoClientValues, repeatLastNextLink } = this.options;
    const settle = settleDelayMs * timeScale;
    this.service = new ImportedDeviceService(
      this.store,
      this.baseUrl,
      {
        imports: {
          settleDelayMs: settle,
          // With no delay there is no time to be pending in: the next request settles it.
          pendingAfterMs: passThroughPending && settle > 0 ? settle * PENDING_FROM_FRACTION : undefined,
          listLagMs: listLagMs * timeScale,
        },
        syncRunMs: settle,
        syncCooldownMs: SYNC_COOLDOWN_MS * timeScale,
        pageSize,
      },
      { echoClientValues, repeatLastNextLink, importActionAnswer: this.options.importActionAnswer },
      (entry) => this.creates.push(entry),
    );
    this.autopilotService = new AutopilotDeviceService(this.autopilot, this.baseUrl, {
      pageSize,
      profileDelayMs: this.options.profileAssignDelayMs * timeScale,
      repeatLastNextLink,
      unregister: (device) =>
        this.store.unregister(device.tenantId, { hashKey: device.hashKey, serialKey: serialKey(device.serialNumber) }),
    });
  }

  async stop(): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // Keep-alive sockets (fetch pools them) would otherwise hold close() open.
    this.server.closeAllConnections();
    await closed;
  }

  // Settling is lazy, so imports already due must settle against the registry as it was,
  // before an ops call changes what they would be decided on.
  registerDevice(
    tenantId: string,
    device: { serialNumber?: string; hardwareIdentifier?: string; groupTag?: string; enrollmentState?: "enrolled" | "notContacted" },
  ): void {
    const now = this.options.now();
    this.store.settleDue(now);
    this.store.registerDevice(tenantId, device);
    // Registered before the test began: listed at once.
    this.autopilot.add(
      tenantId,
      {
        id: randomUUID(),
        serialNumber: device.serialNumber ?? "",
        hashKey: hashKey(device.hardwareIdentifier),
        groupTag: device.groupTag ?? "",
        ...(device.enrollmentState ? { enrollmentState: device.enrollmentState } : {}),
      },
      now,
      false,
    );
  }

  targetProfile(tenantId: string, target: { groupTag?: string } = {}): void {
    const now = this.options.now();
    this.store.settleDue(now);
    this.autopilot.targetProfile(tenantId, target, now);
  }

  autopilotDevices(tenantId: string): Record<string, unknown>[] {
    const now = this.options.now();
    this.store.settleDue(now);
    return this.autopilot
      .list(tenantId, now, false)
      .map((d) => autopilotDeviceBody(d, now, this.options.profileAssignDelayMs * this.options.timeScale));
  }

  setEnrollmentState(tenantId: string, serialNumber: string, state: "enrolled" | "notContacted"): void {
    const now = this.options.now();
    this.store.settleDue(now);
    const found = this.autopilot.bySerial(tenantId, serialNumber, now);
    if (found.length === 0)
      throw new RangeError(`setEnrollmentState: no Autopilot device with serial number ${serialNumber} in ${tenantId}`);
    for (const device of found) device.enrollmentState = state;
  }

  rejectHash(hardwareIdentifier: string, code?: number): void {
    this.store.settleDue(this.options.now());
    this.store.rejectHash(hardwareIdentifier, code);
  }

  injectFaults(rule: FaultRule): void {
    this.faults.add(rule);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  records(tenantId: string): ImportedDeviceRecord[] {
    this.store.settleDue(this.options.now());
    return [...this.store.list(tenantId)].map((s) => snapshot(s.record));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = this.options.now();
    const requestId = randomUUID();
    const clientRequestId = headerValue(req, "client-request-id") ?? requestId;
    const ids: RequestIds = { requestId, clientRequestId };
    const target = req.url ?? "/";
    const call: CallContext = { ids, url: `${this.baseUrl}${target}` };
    const method = (req.method ?? "GET").toUpperCase();
    const caller: { principal?: Principal } = {};

    let reply: Reply;
    try {
      reply = await this.process(req, method, target, call, caller);
    } catch (e) {
      reply = this.error(call, 500, "InternalServerError", `Simulator internal error: ${errorMessage(e)}`);
    }

    await sleep(this.options.latencyMs * this.options.timeScale);
    if (reply.kind === "drop") {
      req.socket.destroy();
    } else {
      writeReply(res, reply, { "request-id": requestId, "client-request-id": clientRequestId });
    }
    const sentId = headerValue(req, "client-request-id");
    this.log({
      method,
      path: target,
      status: reply.kind === "drop" ? 0 : reply.status,
      ...(caller.principal ? { tenantId: caller.principal.tenantId, appId: caller.principal.appId } : {}),
      ...(sentId ? { clientRequestId: sentId } : {}),
      at,
    });
  }

  private async process(
    req: IncomingMessage,
    method: string,
    target: string,
    call: CallContext,
    caller: { principal?: Principal },
  ): Promise<Reply> {
    const body = await readBody(req);
    const auth = authenticate(headerValue(req, "authorization"), this.options.signingKey, Date.now());
    if (!auth.ok) return this.error(call, 401, "InvalidAuthenticationToken", auth.message, { "WWW-Authenticate": BEARER_CHALLENGE });
    const principal = auth.principal;
    caller.principal = principal;

    const fault = this.faults.find(
      { method, path: target, serialNumbers: body.kind === "json" ? serialNumbersIn(body.value) : [] },
      this.options.now(),
    );
    let failAfterSuccess: Extract<FaultRule, { kind: "succeedThenFail" }> | undefined;
    if (fault) {
      switch (fault.kind) {
        case "status": {
          this.faults.consume(fault);
          const headers: Record<string, string> =
            fault.retryAfterSeconds !== undefined ? { "Retry-After": String(fault.retryAfterSeconds) } : {};
          return this.injectedError(call, fault.status, fault.errorCode, "Injected fault.", headers);
        }
        case "drop":
          this.faults.consume(fault);
          return { kind: "drop" };
        case "delay":
          this.faults.consume(fault);
          await sleep(fault.ms * this.options.timeScale);
          break;
        case "succeedThenFail":
          // Used up below, only if the service actually succeeds; nothing between here and
          // there awaits, so no other request can take the same use.
          failAfterSuccess = fault;
          break;
      }
    }

    const url = new URL(target, "http://simulator.invalid");
    const route = resolveRoute(url.pathname);
    const throttled = this.throttle(principal, method, route, body, call);
    if (throttled) return throttled;

    if (route.kind === "unknown")
      return this.error(call, route.status, route.status === 404 ? "ResourceNotFound" : "BadRequest", route.message);
    if (!allowedMethods(route).includes(method)) {
      return this.error(call, 405, "MethodNotAllowed", `${method} is not supported on this resource.`, {
        Allow: allowedMethods(route).join(", "),
      });
    }
    if (isWrite(method) ? !mayWrite(principal) : !mayRead(principal)) return this.forbidden(call);

    const now = this.options.now();
    this.store.settleDue(now);
    const reply = this.dispatch(
      {
        route,
        principal,
        body,
        contentType: headerValue(req, "content-type"),
        query: url.searchParams,
        now,
        error: (status, code, message, headers) => this.error(call, status, code, message, headers),
        intuneError: (status, code, text, headers) => this.intuneError(call, status, code, text, headers),
      },
      method,
    );

    if (failAfterSuccess && reply.kind === "respond" && reply.status >= 200 && reply.status < 300) {
      this.faults.consume(failAfterSuccess);
      const status = failAfterSuccess.status ?? 504;
      return status === 0
        ? { kind: "drop" }
        : this.injectedError(call, status, undefined, "Injected fault after the request was carried out.");
    }
    return reply;
  }

  private throttle(principal: Principal, method: string, route: Route, body: RequestBody, call: CallContext): Reply | undefined {
    const limiter = isWrite(method) ? this.writeThrottle : this.readThrottle;
    // One request is one write, however many devices an import action carries: Intune's limits
    // are stated per request and nothing documents weighting by payload (facts sheet, "The
    // import action, in practice"). The "perDevice" option keeps the older model for comparison.
    const cost =
      this.options.importActionCost === "perDevice" && route.kind === "importAction" && method === "POST" && body.kind === "json"
        ? importActionSize(body.value)
        : 1;
    if (!limiter.fitsAtAll(cost)) {
      return this.error(
        call,
        400,
        "BadRequest",
        `An import of ${cost} devices is more writes than one throttle window admits; send smaller imports.`,
      );
    }
    const decision = limiter.admit(principal.tenantId, principal.appId, this.options.now(), cost);
    if (decision.admitted) return undefined;
    const who = decision.scope === "app" ? "this application in this tenant" : "this tenant";
    this.throttled429s++;
    // Intune 429s have been seen without Retry-After (IntuneCD issue #217); every Nth one here.
    const every = this.options.retryAfterOmittedEvery;
    if (every > 0 && this.throttled429s % every === 0) return this.error(call, 429, "TooManyRequests", `Too many requests from ${who}.`);
    return this.error(call, 429, "TooManyRequests", `Too many requests from ${who}. Retry after ${decision.retryAfterSeconds} seconds.`, {
      "Retry-After": String(decision.retryAfterSeconds),
    });
  }

  private dispatch(req: OperationRequest, method: string): Reply {
    const service = this.service!;
    const route = req.route;
    switch (route.kind) {
      case "collection":
        return method === "POST" ? service.create(req) : service.list(req);
      case "item":
        return method === "DELETE" ? service.delete({ ...req, route }) : service.get({ ...req, route });
      case "importAction":
        return service.importMany(req);
      case "sync":
        return service.sync(req);
      case "autopilotCollection":
        return this.autopilotService!.list(req);
      case "autopilotItem":
        return method === "DELETE" ? this.autopilotService!.delete({ ...req, route }) : this.autopilotService!.get({ ...req, route });
      case "autopilotUpdate":
        return this.autopilotService!.update({ ...req, route });
      case "autopilotDeleteDevices":
        return this.autopilotService!.deleteDevices(req);
    }
  }

  /** An error worded by Graph's gateway: a plain message. */
  private error(call: CallContext, status: number, code: string, message: string, headers?: Record<string, string>): Reply {
    return {
      kind: "respond",
      status,
      body: graphErrorBody(code, message, call.ids, new Date()),
      contentType: PLAIN_JSON,
      ...(headers ? { headers } : {}),
    };
  }

  /** An error worded by the Intune service: wrapped as Intune's JSON-in-a-string when wrapIntuneMessages. */
  private intuneError(call: CallContext, status: number, code: string, text: string, headers?: Record<string, string>): Reply {
    const message = intuneMessage(text, this.trace(call), { wrap: this.options.wrapIntuneMessages });
    return this.error(call, status, code, message, headers);
  }

  /** Intune's 403 (facts sheet) unless intuneForbidden is off, then Entra's, which is plain. */
  private forbidden(call: CallContext): Reply {
    if (!this.options.intuneForbidden)
      return this.error(call, 403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.");
    const message = intuneMessage(INTUNE_FORBIDDEN_TEXT, this.trace(call), { wrap: this.options.wrapIntuneMessages, traced: true });
    return this.error(call, 403, INTUNE_FORBIDDEN_CODE, message);
  }

  /**
   * An injected fault stands for a failure of the service behind Graph, so it is worded as
   * Intune's, except a 401, which only Graph's token check gives.
   */
  private injectedError(
    call: CallContext,
    status: number,
    code: string | undefined,
    text: string,
    headers?: Record<string, string>,
  ): Reply {
    const chosen = code ?? defaultErrorCode(status, this.options.intuneForbidden);
    return status === 401 ? this.error(call, status, chosen, text, headers) : this.intuneError(call, status, chosen, text, headers);
  }

  private trace(call: CallContext): IntuneTrace {
    return { activityId: call.ids.clientRequestId, url: call.url };
  }

  private log(entry: RequestLogEntry): void {
    this.requestLog.push(entry);
    if (this.requestLog.length > REQUEST_LOG_LIMIT) this.requestLog.splice(0, this.requestLog.length - REQUEST_LOG_LIMIT);
  }
}

function isWrite(method: string): boolean {
  return method !== "GET" && method !== "HEAD";
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first === "" ? undefined : first;
}
