import { answered } from "./answers.js";
import type { Principal } from "./auth.js";
import { isJsonContentType, type Reply, type RequestBody } from "./httpIo.js";
import type { SimulatedImportStore, ImportTiming, StoredImport } from "./importStore.js";
import { decodeSkipToken, encodeSkipToken, parseTop, takePage, type PageCursor } from "./paging.js";
import type { ImportedDeviceInput, ImportedDeviceRecord } from "./records.js";
import type { Route } from "./routes.js";
import { decideSync } from "./syncPolicy.js";
import { retryAfterSeconds } from "./throttle.js";
import { validateImportAction, validateImportedDevice, type ApiVersion } from "./validation.js";

/** One create the service accepted, for tests that prove nothing is lost or duplicated. */
export interface CreateEntry {
  tenantId: string;
  appId: string;
  id: string;
  serialNumber: string;
  importId?: string;
  at: number;
}

export interface ServiceTiming {
  /** Delays already multiplied by timeScale. */
  imports: ImportTiming;
  syncRunMs: number;
  syncCooldownMs: number;
  pageSize: number;
}

/** The answer-shaping behaviours of SimulatorOptions (see options.ts for their sources). */
export interface ServiceBehaviour {
  echoClientValues: boolean;
  repeatLastNextLink: boolean;
  importActionAnswer: "value" | "empty";
}

export interface OperationRequest {
  route: Exclude<Route, { kind: "unknown" }>;
  principal: Principal;
  body: RequestBody;
  contentType: string | undefined;
  query: URLSearchParams;
  now: number;
  /** A Graph error reply carrying this request's ids, its message as Graph's gateway words it. */
  error(status: number, code: string, message: string, headers?: Record<string, string>): Reply;
  /** Likewise for an error of the Intune service itself, its message as Intune words it. */
  intuneError(status: number, code: string, text: string, headers?: Record<string, string>): Reply;
}

const ENTITY_SET_PATH = "deviceManagement/importedWindowsAutopilotDeviceIdentities";
// Query options the simulator implements; any other $-option is refused rather than ignored,
// so a client never believes a filter or sort was applied.
const COLLECTION_QUERY_OPTIONS: ReadonlySet<string> = new Set(["$top", "$skiptoken"]);
const ENTITY_QUERY_OPTIONS: ReadonlySet<string> = new Set();

/** The operations of the importedWindowsAutopilotDeviceIdentities API, after auth and throttling. */
export class ImportedDeviceService {
  constructor(
    private readonly store: SimulatedImportStore,
    private readonly baseUrl: string,
    private readonly timing: ServiceTiming,
    private readonly behaviour: ServiceBehaviour,
    private readonly onCreate: (entry: CreateEntry) => void,
  ) {}

  create(req: OperationRequest): Reply {
    const body = jsonBody(req);
    if (!body.ok) return body.reply;
    const input = validateImportedDevice(body.value, req.route.version);
    if (!input.ok) return req.intuneError(400, "BadRequest", input.message);
    const stored = this.createOne(req, input.value);
    return { kind: "respond", status: 201, body: this.entity(req.route.version, stored.record) };
  }

  importMany(req: OperationRequest): Reply {
    const body = jsonBody(req);
    if (!body.ok) return body.reply;
    const inputs = validateImportAction(body.value, req.route.version);
    if (!inputs.ok) return req.intuneError(400, "BadRequest", inputs.message);
    const created = inputs.value.map((input) => this.answered(this.createOne(req, input).record));
    // Some tenants answer the action 204 without a body (facts sheet, "The import action, in practice").
    if (this.behaviour.importActionAnswer === "empty") return { kind: "respond", status: 204 };
    return {
      kind: "respond",
      status: 200,
      body: {
        "@odata.context": this.context(req.route.version, "Collection(microsoft.graph.importedWindowsAutopilotDeviceIdentity)"),
        value: created,
      },
    };
  }

  get(req: OperationRequest & { route: { kind: "item" } }): Reply {
    const unsupported = unsupportedQueryOption(req, ENTITY_QUERY_OPTIONS);
    if (unsupported) return unsupported;
    const stored = this.store.get(req.principal.tenantId, req.route.id);
    if (!stored) return notFound(req, req.route.id);
    return { kind: "respond", status: 200, body: this.entity(req.route.version, stored.record) };
  }

  delete(req: OperationRequest & { route: { kind: "item" } }): Reply {
    if (!this.store.delete(req.principal.tenantId, req.route.id)) return notFound(req, req.route.id);
    return { kind: "respond", status: 204 };
  }

  list(req: OperationRequest): Reply {
    const unsupported = unsupportedQueryOption(req, COLLECTION_QUERY_OPTIONS);
    if (unsupported) return unsupported;
    const cursor = this.cursor(req);
    if (!cursor.ok) return cursor.reply;

    // Pages are cut from what is listed now. The cursor only moves forward by creation
    // sequence, so a walk never serves a record twice; a record that becomes listed behind the
    // cursor is missed by that walk (a later walk finds it), as with a lagging list. One lag for
    // all records lists them in creation order, so only records created mid-walk are missed.
    const page = takePage(this.store.listed(req.principal.tenantId, req.now), cursor.value);
    const version = req.route.version;
    const body: Record<string, unknown> = {
      "@odata.context": this.context(version, ENTITY_SET_PATH),
      value: page.items.map((s) => this.answered(s.record)),
    };
    // The last page of a listing of several pages links to itself (microsoft-graph-docs issue
    // #8186): a page fetched by skip token is not the first, so a single page never does.
    const repeat = this.behaviour.repeatLastNextLink && queryOption(req.query, "$skiptoken") !== null;
    const next = page.next ?? (repeat ? cursor.value : undefined);
    if (next) body["@odata.nextLink"] = `${this.baseUrl}/${version}/${ENTITY_SET_PATH}?$skiptoken=${encodeSkipToken(next)}`;
    return { kind: "respond", status: 200, body };
  }

  sync(req: OperationRequest): Reply {
    const history = this.store.syncHistory(req.principal.tenantId);
    const decision = decideSync(history, req.now, this.timing.syncRunMs, this.timing.syncCooldownMs);
    switch (decision.outcome) {
      case "started":
        history.lastStartedAt = req.now;
        return { kind: "respond", status: 204 };
      case "running":
        return req.intuneError(409, "Conflict", "A sync is already in progress for this tenant.");
      case "tooSoon": {
        const seconds = retryAfterSeconds(decision.retryAfterMs);
        return req.intuneError(429, "TooManyRequests", "Syncs must be at least 10 minutes apart.", { "Retry-After": String(seconds) });
      }
    }
  }

  private createOne(req: OperationRequest, input: ImportedDeviceInput): StoredImport {
    const { tenantId, appId } = req.principal;
    const stored = this.store.create(tenantId, appId, input, req.now, this.timing.imports);
    this.onCreate({
      tenantId,
      appId,
      id: stored.record.id,
      serialNumber: input.serialNumber ?? "",
      // The client's own importId, whatever the answers say: tests match creates to devices by it.
      ...(input.importId !== null ? { importId: input.importId } : {}),
      at: req.now,
    });
    return stored;
  }

  private cursor(req: OperationRequest): { ok: true; value: PageCursor } | { ok: false; reply: Reply } {
    const skipToken = queryOption(req.query, "$skiptoken");
    const rawTop = queryOption(req.query, "$top");
    let top = this.timing.pageSize;
    if (rawTop !== null) {
      const parsed = parseTop(rawTop);
      if (parsed === undefined)
        return { ok: false, reply: req.error(400, "BadRequest", `Invalid value '${rawTop}' for $top: use a whole number from 1 to 999.`) };
      top = parsed;
    }
    if (skipToken === null) return { ok: true, value: { after: 0, top } };
    const decoded = decodeSkipToken(skipToken);
    if (!decoded)
      return { ok: false, reply: req.error(400, "BadRequest", "The $skiptoken is invalid. Follow @odata.nextLink as returned.") };
    // A $top given next to a skip token wins, as the client asked for it on this call.
    return { ok: true, value: rawTop === null ? decoded : { after: decoded.after, top } };
  }

  private entity(version: ApiVersion, record: ImportedDeviceRecord): Record<string, unknown> {
    return { "@odata.context": this.context(version, `${ENTITY_SET_PATH}/$entity`), ...this.answered(record) };
  }

  private answered(record: ImportedDeviceRecord): ImportedDeviceRecord {
    return answered(record, this.behaviour.echoClientValues);
  }

  private context(version: ApiVersion, fragment: string): string {
    return `${this.baseUrl}/${version}/$metadata#${fragment}`;
  }
}

function jsonBody(req: OperationRequest): { ok: true; value: unknown } | { ok: false; reply: Reply } {
  const body = req.body;
  if (body.kind === "tooLarge")
    return { ok: false, reply: req.error(413, "RequestEntityTooLarge", "The request body is larger than 4 MB.") };
  if (body.kind === "none")
    return { ok: false, reply: req.intuneError(400, "BadRequest", "The request body is empty; a JSON object is required.") };
  if (!isJsonContentType(req.contentType)) {
    return { ok: false, reply: req.error(415, "UnsupportedMediaType", "The request body must be sent as Content-Type: application/json.") };
  }
  if (body.kind === "invalid") return { ok: false, reply: req.intuneError(400, "BadRequest", body.message) };
  return { ok: true, value: body.value };
}

function unsupportedQueryOption(req: OperationRequest, supported: ReadonlySet<string>): Reply | undefined {
  for (const key of req.query.keys()) {
    if (key.startsWith("$") && !supported.has(key.toLowerCase())) {
      return req.error(400, "BadRequest", `Query option '${key}' is not supported here by the simulator.`);
    }
  }
  return undefined;
}

/** Graph matches system query option names case-insensitively. */
function queryOption(query: URLSearchParams, name: string): string | null {
  for (const [key, value] of query) if (key.toLowerCase() === name) return value;
  return null;
}

function notFound(req: OperationRequest, id: string): Reply {
  return req.intuneError(404, "ResourceNotFound", `No importedWindowsAutopilotDeviceIdentity with id '${id}' exists in this tenant.`);
}

/** A copy of the record as the service holds it (the client's own values), for records(). */
export function snapshot(record: ImportedDeviceRecord): ImportedDeviceRecord {
  return answered(record, true);
}
