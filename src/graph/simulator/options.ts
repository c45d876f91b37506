import { SIMULATOR_SIGNING_KEY } from "../devCredential.js";
import { MAX_PAGE_SIZE } from "./paging.js";
import type { ThrottleLimits } from "./throttle.js";

export interface SimulatorOptions {
  /** 0 / undefined = pick a free port on 127.0.0.1. */
  port?: number;
  /**
   * Multiplies every simulated delay: latency, settleDelayMs, delay faults, how long a sync
   * runs and the 10-minute sync cooldown. Throttle windows are not scaled: they are given
   * explicitly, and Retry-After is whole seconds, which a scaled window could not honour.
   * Default 1.
   */
  timeScale?: number;
  /** Added to every response, default 0. */
  latencyMs?: number;
  /**
   * How long an import stays "unknown" before it becomes complete/error; default 2000.
   * 0 = settles on the next request (never in the 201 body: Graph always answers the create
   * with status unknown).
   */
  settleDelayMs?: number;
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
   * The simulated service's clock in epoch ms (settling, throttle windows, sync timing, the
   * `at` of logs). Inject one to test time-dependent behaviour without sleeping. Default Date.now.
   */
  now?: () => number;
}

export interface ResolvedOptions {
  port: number;
  timeScale: number;
  latencyMs: number;
  settleDelayMs: number;
  throttle: ThrottleLimits;
  readThrottle: ThrottleLimits;
  pageSize: number;
  signingKey: string | undefined;
  now: () => number;
}

export const DEFAULT_WRITE_THROTTLE: ThrottleLimits = { windowMs: 20_000, perAppPerTenant: 100, perTenant: 200 };
export const DEFAULT_READ_THROTTLE: ThrottleLimits = { windowMs: 20_000, perAppPerTenant: 1_000, perTenant: 2_000 };

/** Fails fast on options that would otherwise surface as a confusing simulator behaviour. */
export function resolveOptions(options: SimulatorOptions = {}): ResolvedOptions {
  const timeScale = nonNegative("timeScale", options.timeScale ?? 1);
  const resolved: ResolvedOptions = {
    port: options.port ?? 0,
    timeScale,
    latencyMs: nonNegative("latencyMs", options.latencyMs ?? 0),
    settleDelayMs: nonNegative("settleDelayMs", options.settleDelayMs ?? 2_000),
    throttle: limits("throttle", options.throttle ?? DEFAULT_WRITE_THROTTLE),
    readThrottle: limits("readThrottle", options.readThrottle ?? DEFAULT_READ_THROTTLE),
    pageSize: options.pageSize ?? 100,
    signingKey: options.validateTokenSignature === false ? undefined : (options.signingKey ?? SIMULATOR_SIGNING_KEY),
    now: options.now ?? Date.now,
  };
  if (!Number.isInteger(resolved.port) || resolved.port < 0 || resolved.port > 65_535) throw new RangeError("port must be 0..65535");
  if (!Number.isInteger(resolved.pageSize) || resolved.pageSize < 1 || resolved.pageSize > MAX_PAGE_SIZE) {
    throw new RangeError(`pageSize must be an integer from 1 to ${MAX_PAGE_SIZE}`);
  }
  return resolved;
}

function nonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be a finite number >= 0`);
  return value;
}

function limits(name: string, l: ThrottleLimits): ThrottleLimits {
  for (const key of ["windowMs", "perAppPerTenant", "perTenant"] as const) {
    if (!Number.isInteger(l[key]) || l[key] < 1) throw new RangeError(`${name}.${key} must be a positive integer`);
  }
  return { ...l };
}
