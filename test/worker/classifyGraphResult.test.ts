import { describe, expect, it } from "vitest";
import { classifyFailure } from "../../src/worker/classifyGraphResult.js";

describe("classifyFailure", () => {
  it.each([408, 429, 500, 502, 503, 504])("treats HTTP %i as transient", (status) => {
    expect(classifyFailure({ kind: "http-error", status }).kind).toBe("transient");
  });

  it.each([400, 401, 403, 404, 409, 422])("treats HTTP %i as permanent, keeping Graph's code and message", (status) => {
    const failure = classifyFailure({ kind: "http-error", status, code: "BadRequest", message: "nope" });
    expect(failure).toEqual({ kind: "permanent", errorCode: "BadRequest", errorMessage: "nope" });
  });

  it("carries Retry-After through", () => {
    expect(classifyFailure({ kind: "http-error", status: 429, retryAfterMs: 7_000, code: "TooManyRequests" })).toMatchObject({
      kind: "transient",
      retryAfterMs: 7_000,
      errorCode: "TooManyRequests",
    });
  });

  it("treats dropped connections and timeouts as transient", () => {
    expect(classifyFailure({ kind: "network-error", message: "socket hang up" })).toMatchObject({ kind: "transient", errorCode: "NetworkError" });
  });

  it("names the status when Graph sent no error body", () => {
    expect(classifyFailure({ kind: "http-error", status: 403 })).toMatchObject({ errorCode: "HTTP403" });
  });
});
