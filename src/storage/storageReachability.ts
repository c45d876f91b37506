import type { HttpClient, PipelineRequest, PipelineResponse } from "@azure/core-rest-pipeline";
import type { ServiceClock } from "./serviceClock.js";

/** How many ended outages an instance remembers: a late message asks about the last minutes, not the day. */
const REMEMBERED_OUTAGES = 16;

/**
 * What this instance has seen of storage: the stretches in which its table and queue requests
 * went unanswered (refused, reset, timed out) or were answered 5xx, each until a request was answered
 * again. The worker asks it why a write came late for its slot: storage away since the slot was
 * due is an outage, so the tenant's schedule pauses (pacing.ts, stalled); anything else (a busy
 * instance, a slow poll) takes the write a new slot instead, so that ordinary lateness never moves
 * everybody's slots.
 */
export class StorageReachability {
  private failingSince: number | undefined;
  private readonly ended: { from: number; to: number }[] = [];

  constructor(private readonly now: () => number = Date.now) {}

  failed(at = this.now()): void {
    this.failingSince ??= at;
  }

  answered(at = this.now()): void {
    if (this.failingSince === undefined) return;
    this.ended.push({ from: this.failingSince, to: at });
    if (this.ended.length > REMEMBERED_OUTAGES) this.ended.shift();
    this.failingSince = undefined;
  }

  /** The last outage that ended at or after `since`, while storage answers again (undefined: none, or one still going on). */
  lastEndedSince(since: number): { from: number; to: number } | undefined {
    if (this.failingSince !== undefined) return undefined;
    const last = this.ended[this.ended.length - 1];
    return last && last.to >= since ? { ...last } : undefined;
  }

  /** When the first outage that touched `from` to `to` began (undefined: storage was there all along). */
  awaySinceDuring(from: number, to: number): number | undefined {
    const starts = this.ended.filter((o) => o.from <= to && o.to >= from).map((o) => o.from);
    if (this.failingSince !== undefined && this.failingSince <= to) starts.push(this.failingSince);
    return starts.length > 0 ? Math.min(...starts) : undefined;
  }

  /**
   * When storage came back after the last outage that touched `from` to `to` (`to` itself while
   * one is still going on); undefined when storage was there all along.
   */
  backAfterAwayDuring(from: number, to: number): number | undefined {
    if (this.failingSince !== undefined && this.failingSince <= to) return to;
    const touching = this.ended.filter((o) => o.from <= to && o.to >= from);
    return touching.length > 0 ? Math.max(...touching.map((o) => o.to)) : undefined;
  }
}

/**
 * An HTTP client for the storage SDKs that tells `reachability` whether each request was answered,
 * and `clock` what each answer says of the service's time (serviceClock.ts), and gives each try
 * a timeout.
 */
export function observingHttpClient(
  inner: HttpClient,
  reachability: StorageReachability,
  clock?: ServiceClock,
  /** A try with no answer by then is abandoned (and retried by the SDK); 0 or absent: no limit of its own. */
  tryTimeoutMs = 0,
): HttpClient {
  return {
    async sendRequest(request: PipelineRequest): Promise<PipelineResponse> {
      if (tryTimeoutMs > 0 && !request.timeout) request.timeout = tryTimeoutMs;
      const sentAt = clock?.localNow() ?? 0;
      let response: PipelineResponse;
      try {
        response = await inner.sendRequest(request);
      } catch (error) {
        reachability.failed();
        throw asRetriable(error);
      }
      if (response.status >= 500) reachability.failed();
      else reachability.answered();
      clock?.observe(sentAt, clock.localNow(), {
        method: request.method,
        status: response.status,
        date: response.headers.get("date"),
        etag: response.headers.get("etag"),
      });
      return response;
    },
  };
}

/**
 * An answer whose connection was cut after its headers came is, to the caller, an answer lost like
 * one cut before them: the HTTP client reports it as an unreadable body (a RestError, PARSE_ERROR,
 * "Error reading response as text: aborted"), which the SDKs' retry policies do not retry, so
 * the step failed and its message waited out host.json's visibilityTimeout (a poll round in the
 * storm bench, issue 14). Marked as the connection reset it is, the storage client retries it; a
 * write tried again is one whose first try may have landed, which every writer here already
 * allows for (ETag checks, landedAlready in importStore.ts), as for any reset.
 */
function asRetriable(error: unknown): unknown {
  if (error instanceof Error && /^Error reading response as text: (aborted|socket hang up)/.test(error.message)) {
    (error as Error & { code?: string }).code = "ECONNRESET";
  }
  return error;
}
