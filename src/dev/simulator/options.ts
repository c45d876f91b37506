import { SIMULATOR_SIGNING_KEY } from "../../graph/devCredential.js";
import { MAX_PAGE_SIZE } from "./paging.js";
import type { ThrottleLimits } from "./throttle.js";

/**
 * "observed": what real Intune tenants have been seen to do (the facts sheet's "What real
 * Intune has been seen to do that the docs don't say", each behaviour with its public source).
 * "documented": what Microsoft's API pages and their examples show.
 */
export type SimulatorBehaviour = "observed" | "documented";

export interface SimulatorOptions {
  /** 0 / undefined = pick a free port on 127.0.0.1. */
  port?: number;
  /**
   * Multiplies every simulated delay: latency, settleDelayMs, listLagMs, delay faults, how
   * long a sync runs and the 10-minute sync cooldown. Throttle windows are not scaled: they
   * are given explicitly, and Retry-After is whole seconds, which a scaled window could not
   * honour. Default 1.
   */
  timeScale?: number;
  /** Added to every response, default 0. */
  latencyMs?: number;
  /**
   * How long an import takes to become complete/error; default 2000. 0 = settles on the next
   * request (never in the 201 body: Graph always answers the create with status unknown).
   */
  settleDelayMs?: number;
  /**
   * How long an Autopilot device stays `pending` once a deployment profile targets its group
   * tag (GraphSimulator.targetProfile) before it reads `assignedInSync`; scaled by timeScale.
   * Intune documents no figure ("can take some time"); default 30000.
   */
  profileAssignDelayMs?: number;
  /** Budget for POST/PATCH/PUT/DELETE. Default { windowMs: 20000, perAppPerTenant: 100, perTenant: 200 }. */
  throttle?: ThrottleLimits;
  /** Budget for GET. Default { windowMs: 20000, perAppPerTenant: 1000, perTenant: 2000 }. */
  readThrottle?: ThrottleLimits;
  /** Default list page size, default 100 (a client may set 1..999 with $top). */
  pageSize?: number;
  /** Default true. When false, tokens are decoded without checking their signature. */
  validateTokenSignature?: boolean;
  /** HS256 key tokens must be signed with; default SIMULATOR_SIGNING_KEY (match SimulatorCredential's). */
  signingKey?: string;
  /**
   * The simulated service's clock in epoch ms (settling, list lag, throttle windows, sync
   * timing, the `at` of logs). Inject one to test time-dependent behaviour without sleeping.
   * Default Date.now.
   */
  now?: () => number;

  /**
   * Default "observed". Sets the defaults of the finer options below; any of them given
   * explicitly wins. The defaults per behaviour are in BEHAVIOUR_DEFAULTS.
   */
  behaviour?: SimulatorBehaviour;
  /**
   * true: answers echo the client's importId, productKey and hardwareIdentifier, as the docs'
   * example shows. false: every answer (201, import action, GET, list) carries the record's
   * own id as importId and productKey and an empty hardwareIdentifier, as a real 201 did
   * (MSEndpointMgr/Intune issue #71). What the client sent is kept either way: it drives
   * settlement, and `creates` keeps the client's importId. Observed false, documented true.
   */
  echoClientValues?: boolean;
  /**
   * true: an import reads "unknown", then "pending" from a third of settleDelayMs on, then
   * complete/error (the enum's `pending`, which tools poll through as well as `unknown`; facts
   * sheet). false: unknown straight to complete/error, as the create page describes.
   * Observed true, documented false.
   */
  passThroughPending?: boolean;
  /**
   * A record appears in list pages only this long after its create (scaled by timeScale);
   * GET by id finds it at once. Whether a fresh record is already listed is undocumented, and
   * tools are told not to conclude a record is gone from one list that lacks it (facts sheet).
   * Observed 3000, documented 0.
   */
  listLagMs?: number;
  /**
   * true: a 403 says code "Forbidden", "Application is not authorized to perform this
   * operation…", as Intune's do (facts sheet). false: Entra's "Authorization_RequestDenied".
   * Also decides the code of an injected 403 fault that names none. Observed true, documented false.
   */
  intuneForbidden?: boolean;
  /**
   * true: errors of the Intune service behind deviceManagement (body validation 400s, 403,
   * item 404, sync 409/429, injected faults but 401) carry `error.message` as Intune's JSON
   * document in a string, `{"_version":3,"Message":"… - Operation ID …",…}` (facts sheet).
   * Gateway errors (401, unknown segment, 405, throttling) stay plain. Observed true, documented false.
   */
  wrapIntuneMessages?: boolean;
  /**
   * Every Nth throttling 429 is sent without Retry-After, counted across the simulator from
   * its start, so tests can rely on which one (Intune 429s have been seen without it: IntuneCD
   * issue #217). 0 = always send it. Injected status faults send exactly what their rule says.
   * Observed 3, documented 0.
   */
  retryAfterOmittedEvery?: number;
  /**
   * true: when a listing takes more than one page, its last page carries an @odata.nextLink
   * that fetches that same page again, for ever (seen on the sibling windowsAutopilotDeviceIdentities
   * collection: microsoft-graph-docs issue #8186). A single-page listing carries none.
   * Observed true, documented false.
   */
  repeatLastNextLink?: boolean;
  /**
   * The import action's answer: "value", 200 with the created records (Graph's documented
   * answer), or "empty", 204 without a body, as one community tool reports (facts sheet, "The
   * import action, in practice"). Either way the records can be found by serial number. Default "value".
   */
  importActionAnswer?: "value" | "empty";
  /**
   * What an import action costs against the write throttle: "perRequest", one write whatever
   * it carries (Intune's limits are per request; facts sheet), or "perDevice", one per device
   * (the simulator's older model, kept for comparison). Default "perRequest".
   */
  importActionCost?: "perRequest" | "perDevice";
}

/** The finer options `behaviour` decides, resolved. */
export interface BehaviourOptions {
  echoClientValues: boolean;
  passThroughPending: boolean;
  listLagMs: number;
  intuneForbidden: boolean;
  wrapIntuneMessages: boolean;
  retryAfterOmittedEvery: number;
  repeatLastNextLink: boolean;
}

export const BEHAVIOUR_DEFAULTS: Readonly<Record<SimulatorBehaviour, Readonly<BehaviourOptions>>> = {
  observed: {
    echoClientValues: false,
    passThroughPending: true,
    listLagMs: 3_000,
    intuneForbidden: true,
    wrapIntuneMessages: true,
    retryAfterOmittedEvery: 3,
    repeatLastNextLink: true,
  },
  documented: {
    echoClientValues: true,
    passThroughPending: false,
    listLagMs: 0,
    intuneForbidden: false,
    wrapIntuneMessages: false,
    retryAfterOmittedEvery: 0,
    repeatLastNextLink: false,
  },
};

export interface ResolvedOptions extends BehaviourOptions {
  port: number;
  timeScale: number;
  latencyMs: number;
  settleDelayMs: number;
  profileAssignDelayMs: number;
  throttle: ThrottleLimits;
  readThrottle: ThrottleLimits;
  pageSize: number;
  signingKey: string | undefined;
  now: () => number;
  behaviour: SimulatorBehaviour;
  importActionAnswer: "value" | "empty";
  importActionCost: "perRequest" | "perDevice";
}

/** With passThroughPending, an import reads "pending" from this fraction of its settle delay on. */
export const PENDING_FROM_FRACTION = 1 / 3;

export const DEFAULT_WRITE_THROTTLE: ThrottleLimits = { windowMs: 20_000, perAppPerTenant: 100, perTenant: 200 };
export const DEFAULT_READ_THROTTLE: ThrottleLimits = { windowMs: 20_000, perAppPerTenant: 1_000, perTenant: 2_000 };

/** Fails fast on options that would otherwise surface as a confusing simulator behaviour. */
export function resolveOptions(options: SimulatorOptions = {}): ResolvedOptions {
  const timeScale = nonNegative("timeScale", options.timeScale ?? 1);
  const behaviour = options.behaviour ?? "observed";
  // Options often come from env vars or JSON, where a typo would otherwise fall back silently.
  if (behaviour !== "observed" && behaviour !== "documented") {
    throw new RangeError(`behaviour must be "observed" or "documented", not ${JSON.stringify(behaviour)}`);
  }
  const defaults = BEHAVIOUR_DEFAULTS[behaviour];
  const resolved: ResolvedOptions = {
    port: options.port ?? 0,
    timeScale,
    latencyMs: nonNegative("latencyMs", options.latencyMs ?? 0),
    settleDelayMs: nonNegative("settleDelayMs", options.settleDelayMs ?? 2_000),
    profileAssignDelayMs: nonNegative("profileAssignDelayMs", options.profileAssignDelayMs ?? 30_000),
    throttle: limits("throttle", options.throttle ?? DEFAULT_WRITE_THROTTLE),
    readThrottle: limits("readThrottle", options.readThrottle ?? DEFAULT_READ_THROTTLE),
    pageSize: options.pageSize ?? 100,
    signingKey: options.validateTokenSignature === false ? undefined : (options.signingKey ?? SIMULATOR_SIGNING_KEY),
    now: options.now ?? Date.now,
    behaviour,
    echoClientValues: flag("echoClientValues", options.echoClientValues ?? defaults.echoClientValues),
    passThroughPending: flag("passThroughPending", options.passThroughPending ?? defaults.passThroughPending),
    listLagMs: nonNegative("listLagMs", options.listLagMs ?? defaults.listLagMs),
    intuneForbidden: flag("intuneForbidden", options.intuneForbidden ?? defaults.intuneForbidden),
    wrapIntuneMessages: flag("wrapIntuneMessages", options.wrapIntuneMessages ?? defaults.wrapIntuneMessages),
    retryAfterOmittedEvery: options.retryAfterOmittedEvery ?? defaults.retryAfterOmittedEvery,
    repeatLastNextLink: flag("repeatLastNextLink", options.repeatLastNextLink ?? defaults.repeatLastNextLink),
    importActionAnswer: oneOf("importActionAnswer", options.importActionAnswer ?? "value", ["value", "empty"] as const),
    importActionCost: oneOf("importActionCost", options.importActionCost ?? "perRequest", ["perRequest", "perDevice"] as const),
  };
  if (!Number.isInteger(resolved.port) || resolved.port < 0 || resolved.port > 65_535) throw new RangeError("port must be 0..65535");
  if (!Number.isInteger(resolved.pageSize) || resolved.pageSize < 1 || resolved.pageSize > MAX_PAGE_SIZE) {
    throw new RangeError(`pageSize must be an integer from 1 to ${MAX_PAGE_SIZE}`);
  }
  if (!Number.isSafeInteger(resolved.retryAfterOmittedEvery) || resolved.retryAfterOmittedEvery < 0) {
    throw new RangeError("retryAfterOmittedEvery must be a whole number >= 0 (0 = never omit Retry-After)");
  }
  return resolved;
}

function nonNegative(name: string, value: number): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be a finite number >= 0`);
  return value;
}

function oneOf<T extends string>(name: string, value: T, allowed: readonly T[]): T {
  if (!allowed.includes(value))
    throw new RangeError(`${name} must be one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}, not ${JSON.stringify(value)}`);
  return value;
}

function flag(name: string, value: boolean): boolean {
  if (typeof value !== "boolean") throw new TypeError(`${name} must be true or false`);
  return value;
}

function limits(name: string, l: ThrottleLimits): ThrottleLimits {
  for (const key of ["windowMs", "perAppPerTenant", "perTenant"] as const) {
    if (!Number.isInteger(l[key]) || l[key] < 1) throw new RangeError(`${name}.${key} must be a positive integer`);
  }
  return { ...l };
}
