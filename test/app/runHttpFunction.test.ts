import { describe, expect, it } from "vitest";
import { functionDefinitions } from "../../src/app/functionDefinitions.js";
import { runHttpFunction } from "../../src/app/runHttpFunction.js";
import type { Services } from "../../src/app/services.js";
import { silentLogger } from "../../src/telemetry/logging.js";

/** Found by the fault suite (scenario 2): storage unreachable at the credential check answered 500. */
describe("runHttpFunction when the credential cannot be checked", () => {
  it("answers 503 with Retry-After and never runs the function", async () => {
    let handled = false;
    const createImport = functionDefinitions.find((d) => d.kind === "http" && d.name === "createImport");
    if (createImport?.kind !== "http") throw new Error("createImport is not defined");
    const services = {
      authenticator: { authenticate: () => Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:10002")) },
      config: { statusRetryAfterSeconds: 7 },
      log: silentLogger,
    } as unknown as Services;
    const response = await runHttpFunction(
      { ...createImport, handle: async () => ((handled = true), { status: 202 }) },
      () => Promise.resolve(services),
      {
        method: "POST",
        url: new URL("http://localhost/api/imports"),
        headers: new Headers({ "x-api-key": "whatever" }),
        params: {},
        readBody: () => Promise.resolve(Buffer.from("{}")),
      },
    );
    expect(handled).toBe(false);
    expect(response.status).toBe(503);
    expect(response.headers).toMatchObject({ "content-type": "application/problem+json", "retry-after": "7" });
    expect(JSON.parse(response.body!).type).toMatch(/storage-unavailable$/);
  });
});
