/**
 * Operator-injected failures. A rule applies to matching requests in injection order; only
 * the first matching rule acts on a request, and a rule with `times` retires after acting
 * that many times.
 */
export interface FaultMatch {
  /** Case-insensitive HTTP method. */
  method?: string;
  /** Substring of the request target (path and query). */
  pathIncludes?: string;
  /** Matches a create whose serialNumber is this, or an import action that contains it. */
  serialNumber?: string;
}

interface FaultBase {
  match?: FaultMatch;
  times?: number;
  /** Lets this many matching requests through untouched before the rule starts acting ("a third of the way through"). */
  after?: number;
  /** Once the rule first acts, it acts on every matching request for this long (ms on the simulator's clock), then retires: a storm. */
  forMs?: number;
}

export type FaultRule =
  /** Answers with this status and a Graph-shaped error; the request never reaches the service. */
  | (FaultBase & { kind: "status"; status: number; retryAfterSeconds?: number; errorCode?: string })
  /** Destroys the socket without a response; the request never reaches the service. */
  | (FaultBase & { kind: "drop" })
  /**
   * The service performs the request (a create is recorded in `creates` and the records),
   * then the client gets this status (default 504) instead of the success, or a dropped
   * socket when status is 0. Only a request the service answered with 2xx uses up the rule.
   */
  | (FaultBase & { kind: "succeedThenFail"; status?: number })
  /** Holds the request this long (scaled by timeScale) before the service handles it. */
  | (FaultBase & { kind: "delay"; ms: number });

export interface FaultTarget {
  method: string;
  path: string;
  serialNumbers: readonly string[];
}

interface ActiveRule {
  rule: FaultRule;
  remaining: number;
  /** Matching requests still to let through (FaultBase.after). */
  passes: number;
  actingSince?: number;
}

export class FaultBook {
  private rules: ActiveRule[] = [];

  add(rule: FaultRule): void {
    if (rule.times !== undefined && (!Number.isInteger(rule.times) || rule.times < 1)) {
      throw new RangeError("FaultRule.times must be a positive integer");
    }
    if (rule.kind === "status" && (!Number.isInteger(rule.status) || rule.status < 100 || rule.status > 599)) {
      throw new RangeError("FaultRule.status must be an HTTP status code");
    }
    if (rule.kind === "succeedThenFail" && rule.status !== undefined && rule.status !== 0 && (rule.status < 100 || rule.status > 599)) {
      throw new RangeError("succeedThenFail status must be 0 (drop) or an HTTP status code");
    }
    if (rule.kind === "delay" && !(rule.ms >= 0)) throw new RangeError("FaultRule.ms must be non-negative");
    if (rule.after !== undefined && (!Number.isInteger(rule.after) || rule.after < 0))
      throw new RangeError("FaultRule.after must be a whole number >= 0");
    if (rule.forMs !== undefined && !(rule.forMs > 0)) throw new RangeError("FaultRule.forMs must be positive");
    this.rules.push({ rule: structuredClone(rule), remaining: rule.times ?? Number.POSITIVE_INFINITY, passes: rule.after ?? 0 });
  }

  clear(): void {
    this.rules = [];
  }

  /** The rule that acts on this request, not yet used up: call `consume` once it has acted. */
  find(target: FaultTarget, now = Date.now()): FaultRule | undefined {
    for (const active of this.rules) {
      if (active.remaining <= 0 || !matches(active.rule.match, target)) continue;
      if (active.passes > 0) {
        active.passes--;
        continue;
      }
      if (active.rule.forMs !== undefined) {
        active.actingSince ??= now;
        if (now - active.actingSince > active.rule.forMs) {
          active.remaining = 0;
          continue;
        }
      }
      return active.rule;
    }
    return undefined;
  }

  consume(rule: FaultRule): void {
    const active = this.rules.find((r) => r.rule === rule);
    if (!active) return; // cleared meanwhile
    active.remaining--;
    if (active.remaining <= 0) this.rules = this.rules.filter((r) => r !== active);
  }
}

function matches(match: FaultMatch | undefined, target: FaultTarget): boolean {
  if (!match) return true;
  if (match.method !== undefined && match.method.toUpperCase() !== target.method.toUpperCase()) return false;
  if (match.pathIncludes !== undefined && !target.path.includes(match.pathIncludes)) return false;
  if (match.serialNumber !== undefined && !target.serialNumbers.includes(match.serialNumber)) return false;
  return true;
}
