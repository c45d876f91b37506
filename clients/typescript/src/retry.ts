/**
 * A fetch that repeats what the server asks to be repeated: 429 and 503 after their
 * Retry-After (seconds or an HTTP date), and a dropped connection for reads and for requests
 * carrying an Idempotency-Key (the server answers a repeat with the first request's batch).
 * Bounded: after `maxRetries` the last answer (or error) is the caller's.
 */
export interface RetryOptions {
  /** Repeats after the first attempt (default 4). */
  maxRetries?: number;
  /** The longest wait between attempts, whatever Retry-After says (default 60 s). */
  maxDelayMs?: number;
  /** The wait when the server names none, doubled each time (default 1 s). */
  baseDelayMs?: number;
  /** Replaceable in tests. */
  sleep?: (ms: number) => Promise<void>;
}

const RETRIED_STATUSES = new Set([429, 503]);
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Milliseconds a Retry-After header asks for, or undefined when it says nothing usable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === "") return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export function retryingFetch(inner: typeof fetch, options: RetryOptions = {}): (request: Request) => Promise<Response> {
  const maxRetries = options.maxRetries ?? 4;
  const maxDelayMs = options.maxDelayMs ?? 60_000;
  const baseDelayMs = options.baseDelayMs ?? 1_000;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  return async (request) => {
    const repeatable = SAFE_METHODS.has(request.method) || request.headers.has("idempotency-key");
    for (let attempt = 0; ; attempt++) {
      const backoff = Math.min(maxDelayMs, baseDelayMs * 2 ** attempt);
      let response: Response;
      try {
        // A clone per attempt: a body can be read once.
        response = await inner(request.clone());
      } catch (error) {
        if (!repeatable || attempt >= maxRetries || request.signal.aborted) throw error;
        await sleep(backoff);
        continue;
      }
      if (!RETRIED_STATUSES.has(response.status) || attempt >= maxRetries) return response;
      await response.body?.cancel();
      await sleep(Math.min(maxDelayMs, retryAfterMs(response.headers.get("retry-after")) ?? backoff));
    }
  };
}
