import { describe, expect, it } from "vitest";
import {
  createEmptyPipeline,
  createHttpHeaders,
  createPipelineRequest,
  defaultRetryPolicy,
  RestError,
  type HttpClient,
} from "@azure/core-rest-pipeline";
import { observingHttpClient, StorageReachability } from "../../src/storage/storageReachability.js";

/** Whether storage was away at any time from `from` to `to` (an outage still going on counts). */
const wasAway = (seen: StorageReachability, from: number, to: number) => seen.backAfterAwayDuring(from, to) !== undefined;

describe("storage reachability", () => {
  it("knows the stretch its requests went unanswered, until one was answered again", () => {
    const seen = new StorageReachability(() => 0);
    seen.answered(1_000);
    seen.failed(2_000);
    seen.failed(3_000);
    seen.answered(5_000);
    expect(wasAway(seen, 0, 1_999)).toBe(false);
    expect(wasAway(seen, 1_500, 2_000)).toBe(true);
    expect(wasAway(seen, 4_000, 9_000)).toBe(true);
    expect(wasAway(seen, 5_001, 9_000)).toBe(false);
  });

  it("names the last outage that ended since a moment, and none while one is going on", () => {
    const seen = new StorageReachability(() => 0);
    expect(seen.lastEndedSince(0)).toBeUndefined();
    seen.failed(2_000);
    seen.answered(5_000);
    seen.failed(8_000);
    seen.answered(9_000);
    expect(seen.lastEndedSince(6_000)).toEqual({ from: 8_000, to: 9_000 });
    expect(seen.lastEndedSince(9_001)).toBeUndefined();
    seen.failed(10_000);
    expect(seen.lastEndedSince(0)).toBeUndefined();
  });

  it("says when the first outage that touched a stretch began", () => {
    const seen = new StorageReachability(() => 0);
    seen.failed(2_000);
    seen.answered(5_000);
    seen.failed(8_000);
    expect(seen.awaySinceDuring(0, 1_999)).toBeUndefined();
    expect(seen.awaySinceDuring(1_000, 6_000)).toBe(2_000);
    expect(seen.awaySinceDuring(6_000, 7_000)).toBeUndefined();
    // One still going on counts.
    expect(seen.awaySinceDuring(6_000, 9_000)).toBe(8_000);
  });

  it("says when storage came back after the last outage that touched a stretch", () => {
    const seen = new StorageReachability(() => 0);
    seen.failed(2_000);
    seen.answered(5_000);
    seen.failed(8_000);
    seen.answered(9_000);
    expect(seen.backAfterAwayDuring(0, 1_999)).toBeUndefined();
    expect(seen.backAfterAwayDuring(1_000, 6_000)).toBe(5_000);
    expect(seen.backAfterAwayDuring(1_000, 20_000)).toBe(9_000);
    seen.failed(30_000);
    expect(seen.backAfterAwayDuring(25_000, 31_000)).toBe(31_000);
  });

  it("counts an outage still going on", () => {
    const seen = new StorageReachability(() => 0);
    seen.failed(2_000);
    expect(wasAway(seen, 9_000, 10_000)).toBe(true);
    expect(wasAway(seen, 0, 1_000)).toBe(false);
  });

  it("is told by the storage SDKs' HTTP client: no answer or a 5xx fails, any other answer answers", async () => {
    let clock = 0;
    const seen = new StorageReachability(() => clock);
    const answers: (number | Error)[] = [204, new Error("ECONNREFUSED"), 503, 404];
    const inner: HttpClient = {
      sendRequest: async (request) => {
        const next = answers.shift()!;
        if (next instanceof Error) throw next;
        return { request, status: next, headers: createHttpHeaders() };
      },
    };
    const client = observingHttpClient(inner, seen);
    const send = () => client.sendRequest(createPipelineRequest({ url: "http://127.0.0.1/table" }));
    clock = 1_000;
    await send();
    clock = 2_000;
    await expect(send()).rejects.toThrow("ECONNREFUSED");
    clock = 3_000;
    expect((await send()).status).toBe(503);
    expect(wasAway(seen, 3_500, 4_000)).toBe(true);
    clock = 4_000;
    expect((await send()).status).toBe(404);
    expect(wasAway(seen, 4_001, 9_000)).toBe(false);
    expect(wasAway(seen, 0, 1_999)).toBe(false);
    expect(wasAway(seen, 2_000, 2_000)).toBe(true);
  });

  it("has a storage client retry an answer cut after its headers, as it retries a connection reset", async () => {
    let tries = 0;
    const inner: HttpClient = {
      async sendRequest(request) {
        tries++;
        // What the Node HTTP client throws when the body's stream aborts (the storm bench's outage).
        if (tries === 1) throw new RestError("Error reading response as text: aborted", { code: RestError.PARSE_ERROR });
        return { request, status: 200, headers: createHttpHeaders() };
      },
    };
    const seen = new StorageReachability(() => 0);
    // The retry policy the storage SDKs' clients are built with (core-client: defaultRetryPolicy).
    const pipeline = createEmptyPipeline();
    pipeline.addPolicy(defaultRetryPolicy({ maxRetries: 2, retryDelayInMs: 1, maxRetryDelayInMs: 1 }));
    const response = await pipeline.sendRequest(observingHttpClient(inner, seen), createPipelineRequest({ url: "http://127.0.0.1/table" }));
    expect(response.status).toBe(200);
    expect(tries).toBe(2);
  });
});
