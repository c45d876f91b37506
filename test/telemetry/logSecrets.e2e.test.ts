import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { consoleLogger, type LogRecord } from "../../src/telemetry/logging.js";
import { allDevices, startPipeline, TENANT_A, waitForBatch, type Pipeline } from "../support/pipeline.js";
import { makeCsv, makeDevices, type CsvDevice } from "../support/devices.js";

/**
 * An end-to-end run with every kind of secret a device carries (hashes, product keys, UPNs),
 * the partner's API key, wrong keys and tokens sent on purpose, and the paths where free text
 * reaches the logs (Graph errors, retries after 5xx and 429, rejected credentials). Every line
 * written, by the services' logger and by anything else on the console, is captured and
 * searched for each secret; and the lines must carry their batch, device and tenant.
 */
const OTHER_TENANT = "cccccccc-0000-4000-8000-00000000000c";
const lines: string[] = [];
let pipeline: Pipeline;

function productKey(): string {
  const alphabet = "BCDFGHJKMPQRTVWXY2346789";
  const bytes = randomBytes(25);
  const chars = [...bytes].map((b) => alphabet[b % alphabet.length]);
  return [0, 5, 10, 15, 20].map((i) => chars.slice(i, i + 5).join("")).join("-");
}

function capture(chunk: unknown): void {
  lines.push(
    ...String(chunk)
      .split("\n")
      .filter((line) => line.length > 0),
  );
}

beforeAll(async () => {
  for (const method of ["log", "info", "warn", "error", "debug", "trace"] as const) {
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => capture(args.map(String).join(" ")));
  }
  const write = (chunk: unknown) => (capture(chunk), true);
  vi.spyOn(process.stdout, "write").mockImplementation(write as typeof process.stdout.write);
  vi.spyOn(process.stderr, "write").mockImplementation(write as typeof process.stderr.write);
  pipeline = await startPipeline({
    log: consoleLogger(),
    simulator: { settleDelayMs: 300 },
    env: { RETRY_MAX_ATTEMPTS: "6" },
  });
});
afterAll(async () => {
  await pipeline?.stop();
  vi.restoreAllMocks();
});

describe("logs of an end-to-end run", () => {
  it("hold no hash, product key, UPN, token or API key, and carry batch, device and tenant", { timeout: 120_000 }, async () => {
    const devices: CsvDevice[] = makeDevices(36, "TLM").map((d, i) => ({
      ...d,
      groupTag: `Tag-${i % 4}`,
      ...(i % 3 === 0 ? { productKey: productKey() } : {}),
      ...(i % 2 === 0 ? { assignedUserPrincipalName: `user.${i}@contoso-${i}.onmicrosoft.com` } : {}),
    }));
    const json = devices.slice(0, 24);
    const csv = devices.slice(24);
    [json[3]!, json[4]!, csv[1]!].forEach((d) => pipeline.simulator.registerDevice(TENANT_A, { serialNumber: d.serialNumber }));
    [json[7]!, csv[5]!].forEach((d) => pipeline.simulator.registerDevice(OTHER_TENANT, { hardwareIdentifier: d.hardwareIdentifier }));
    for (const d of [json[10]!, csv[2]!])
      pipeline.simulator.injectFaults({ kind: "status", status: 503, times: 1, match: { serialNumber: d.serialNumber } });
    // A 500 leaves the create in doubt: the retry looks for it first (a list call) before creating.
    pipeline.simulator.injectFaults({
      kind: "status",
      status: 500,
      times: 1,
      errorCode: "InternalServerError",
      match: { serialNumber: json[12]!.serialNumber },
    });
    for (const d of [json[14]!, csv[8]!])
      pipeline.simulator.injectFaults({
        kind: "status",
        status: 429,
        retryAfterSeconds: 1,
        times: 1,
        match: { serialNumber: d.serialNumber },
      });

    // Credentials the API must refuse, and must not log: a well-formed key nobody issued, and a token.
    const wrongKey = `apimp_${randomBytes(8).toString("hex")}_${randomBytes(32).toString("base64url")}`;
    const fakeToken = `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify({ tid: TENANT_A, upn: "spy@contoso.com" })).toString("base64url")}.${randomBytes(64).toString("base64url")}`;
    for (const headers of [{ "x-api-key": wrongKey }, { authorization: `Bearer ${fakeToken}` }, { authorization: `Bearer ${wrongKey}` }]) {
      const refused = await fetch(`${pipeline.api}/imports`, {
        method: "POST",
        headers: { ...headers, "content-type": "application/json" },
        body: JSON.stringify({ devices: json.slice(0, 1) }),
      });
      expect(refused.status).toBe(401);
    }

    const first = await fetch(`${pipeline.api}/imports`, {
      method: "POST",
      headers: { ...pipeline.headers, "content-type": "application/json" },
      body: JSON.stringify({ tenantId: TENANT_A, orderIdentifier: "PO-TELEMETRY", devices: json }),
    });
    expect(first.status).toBe(202);
    const second = await fetch(`${pipeline.api}/imports?tenantId=${TENANT_A}`, {
      method: "POST",
      headers: { ...pipeline.headers, "content-type": "text/csv" },
      body: makeCsv(csv),
    });
    expect(second.status).toBe(202);
    const ids = [((await first.json()) as { id: string }).id, ((await second.json()) as { id: string }).id];

    const finals = await Promise.all(ids.map((id) => waitForBatch(pipeline, id, 90_000)));
    expect(finals.map((f) => f.counts.failed)).toEqual([3, 2]);
    expect(finals.map((f) => f.counts.imported)).toEqual([21, 10]);
    const outcomes = (await Promise.all(ids.map((id) => allDevices(pipeline, id)))).flat();
    expect(outcomes.filter((o) => o.error?.code === "806")).toHaveLength(3);
    expect(outcomes.filter((o) => o.error?.code === "808")).toHaveLength(2);
    // The injected failures were met and retried.
    expect(outcomes.filter((o) => o.state === "imported" && o.attempts > 1).length).toBeGreaterThanOrEqual(5);

    const secrets = [
      ...devices.flatMap((d) => [d.hardwareIdentifier, d.hardwareIdentifier.slice(0, 40), d.hardwareIdentifier.slice(-40)]),
      ...devices.flatMap((d) => (d.productKey ? [d.productKey, d.productKey.replace(/-/g, "")] : [])),
      ...devices.flatMap((d) => (d.assignedUserPrincipalName ? [d.assignedUserPrincipalName] : [])),
      pipeline.partner.apiKey,
      wrongKey,
      fakeToken,
      "spy@contoso.com",
      /AccountKey=([^;]+)/.exec(pipeline.azurite.connectionString)![1]!,
    ];
    // 2 import actions (one chunk per batch), 5 retries, 2 batches, 3 refusals at least: the search below has something to search.
    expect(lines.length).toBeGreaterThanOrEqual(12);
    const leaks = lines.flatMap((line) =>
      secrets.filter((secret) => line.includes(secret)).map((secret) => `${secret.slice(0, 12)}… in ${line.slice(0, 200)}`),
    );
    expect(leaks).toEqual([]);
    // Any token at all (the simulator's Graph tokens included), not only the ones this test knows.
    expect(
      lines.filter((line) => /eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/.test(line) || /Bearer\s+(?!\[redacted\])\S/.test(line)),
    ).toEqual([]);

    // The lines are JSON records that say which batch, device and tenant they are about.
    const records = lines.flatMap((line) => {
      try {
        const parsed = JSON.parse(line) as LogRecord;
        return typeof parsed.message === "string" && typeof parsed.level === "string" ? [parsed] : [];
      } catch {
        return [];
      }
    });
    const about = (message: string) => records.filter((r) => r.message === message);
    expect(
      about("batch accepted")
        .map((r) => r.batchId)
        .sort(),
    ).toEqual([...ids].sort());
    for (const r of about("batch accepted")) expect(r.tenantId).toBe(TENANT_A);
    // Each batch is one chunk: its outcome lines name the batch, its leader's row and the tenant.
    const perDevice = [
      ...about("chunk submitted"),
      ...about("chunk retry scheduled"),
      ...about("device submitted"),
      ...about("retry scheduled"),
    ];
    expect(about("chunk submitted").length).toBeGreaterThanOrEqual(2);
    expect(about("chunk retry scheduled").length).toBeGreaterThanOrEqual(5);
    for (const r of perDevice) {
      expect(ids).toContain(r.batchId);
      expect(r.rowKey).toMatch(/^device-\d{6}$/);
      expect(r.tenantId).toBe(TENANT_A);
    }
    expect(about("request refused: not authenticated")).toHaveLength(3);
  });
});
