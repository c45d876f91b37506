import type { HttpClient, PipelineRequest, PipelineResponse } from "@azure/core-rest-pipeline";

/** How many ended outages an instance remembers: a late message asks about the last minutes, not the day. */
const REMEMBERED_OUTAGES = 16;

/**
 * What this instance has seen of storage: the stretches in which its table requests went
 * unanswered (refused, reset, timed out) or were answered 5xx, each until a request was answered
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

  /** Whether storage was away for this instance at any time from `from` to `to` (an outage still going on counts). */
  wasAwayDuring(from: number, to: number): boolean {
    if (this.failingSince !== undefined && this.failingSince <= to) return true;
    return this.ended.some((o) => o.from <= to && o.to >= from);
  }
}

/** An HTTP client for the storage SDKs that tells `reachability` whether each request was answered. */
export function observingHttpClient(inner: HttpClient, reachability: StorageReachability): HttpClient {
  return {
    async sendRequest(request: PipelineRequest): Promise<PipelineResponse> {
      let response: PipelineResponse;
      try {
        response = await inner.sendRequest(request);
      } catch (error) {
        reachability.failed();
        throw error;
      }
      if (response.status >= 500) reachability.failed();
      else reachability.answered();
      return response;
    },
  };
}
