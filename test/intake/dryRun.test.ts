import { describe, expect, it } from "vitest";
import type { Caller } from "../../src/auth/caller.js";
import type { AppRequest } from "../../src/http/types.js";
import { handleImportPost, type ImportPostDeps } from "../../src/intake/handleImportPost.js";
import { DEFAULT_INTAKE_LIMITS } from "../../src/model/limits.js";
import { makeCsv, makeDevices } from "../support/devices.js";

const TENANT = "11111111-2222-3333-4444-555555555555";
const caller: Caller = { partnerId: "p1", tenants: [TENANT], via: "api-key" };

/** Every storage dependency throws: a dry run must reach none of them. */
function deps(allowed: boolean) {
  const touched: string[] = [];
  const untouchable = (name: string) =>
    new Proxy(
      {},
      {
        get: (_, property) =>
          property === "then"
            ? undefined
            : () => {
                touched.push(`${name}.${String(property)}`);
                throw new Error(`${name} used`);
              },
      },
    );
  let rateTaken = 0;
  const value = {
    store: untouchable("store"),
    journal: untouchable("journal"),
    queue: untouchable("queue"),
    pacing: untouchable("pacing"),
    idempotency: untouchable("idempotency"),
    enqueueConcurrency: 1,
    firstPollDelayMs: 0,
    log: { info() {}, warn() {}, error() {}, debug() {} },
    limits: DEFAULT_INTAKE_LIMITS,
    retryAfterSeconds: 5,
    rateLimit: {
      async takeIntake() {
        rateTaken++;
        return allowed ? { allowed: true as const } : { allowed: false as const, retryAfterMs: 3_000 };
      },
    },
  } as unknown as ImportPostDeps;
  return { value, touched, rateTaken: () => rateTaken };
}

function request(query: string, body: Buffer, headers: Record<string, string> = {}): AppRequest {
  const all: Record<string, string> = { "content-type": "text/csv", ...headers };
  return {
    method: "POST",
    url: new URL(`http://localhost/api/imports?${query}`),
    headers: { get: (n) => all[n.toLowerCase()] ?? null },
    params: {},
    readBody: async () => body,
  };
}

describe("POST /api/imports?dryRun=true", () => {
  it("answers 200 from the checks alone, touching no storage and no Idempotency-Key, and takes the partner's rate once", async () => {
    const d = deps(true);
    const response = await handleImportPost(
      d.value,
      request(`tenantId=${TENANT}&dryRun=true`, makeCsv(makeDevices(2, "UNIT")), { "idempotency-key": "k-1" }),
      caller,
    );
    expect(response.status).toBe(200);
    expect(JSON.parse(String(response.body))).toMatchObject({
      dryRun: true,
      deviceCount: 2,
      devices: [{ serialNumber: "UNIT-00000" }, { serialNumber: "UNIT-00001" }],
    });
    expect(d.touched).toEqual([]);
    expect(d.rateTaken()).toBe(1);
  });

  it("is refused by the rate limit like any POST", async () => {
    const d = deps(false);
    const response = await handleImportPost(d.value, request(`tenantId=${TENANT}&dryRun=true`, makeCsv(makeDevices(1, "UNIT"))), caller);
    expect(response.status).toBe(429);
    expect(d.touched).toEqual([]);
  });
});
