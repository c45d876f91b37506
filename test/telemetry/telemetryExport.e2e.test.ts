import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/config.js";
import { appLogger } from "../../src/telemetry/appLogger.js";
import { METRIC_NAMES } from "../../src/telemetry/metrics.js";
import { startTelemetry, stopTelemetry, telemetryState } from "../../src/telemetry/telemetry.js";
import { makeDevices } from "../support/devices.js";
import { startPipeline, TENANT_A, waitForBatch, type Pipeline } from "../support/pipeline.js";

/**
 * Telemetry on, for real: the Azure Monitor distro exports to a local ingestion endpoint named
 * by the connection string, and what arrives there is the pipeline's metrics, Graph spans and
 * structured logs, with none of the run's secrets.
 *
 * The exporter rewrites an `http://` IngestionEndpoint to `https://`
 * (ConnectionStringParser.sanitizeUrl), so the endpoint is HTTPS with a throw-away
 * self-signed certificate, which this test process is told to accept.
 */
let workDir: string;
let server: Server;
const bodies: string[] = [];
let pipeline: Pipeline;

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), "telemetry-"));
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      join(workDir, "key.pem"),
      "-out",
      join(workDir, "cert.pem"),
    ],
    { stdio: "ignore" },
  );
  server = createServer({ key: readFileSync(join(workDir, "key.pem")), cert: readFileSync(join(workDir, "cert.pem")) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      const text = (req.headers["content-encoding"] === "gzip" ? gunzipSync(raw) : raw).toString("utf8");
      bodies.push(`${req.method} ${req.url}\n${text}`);
      let items = 0;
      try {
        const parsed = JSON.parse(text) as unknown;
        items = Array.isArray(parsed) ? parsed.length : 0;
      } catch {
        // live metrics and the like: not a track call
      }
      res.writeHead(200, { "content-type": "application/json", "x-ms-qps-subscribed": "false" });
      res.end(JSON.stringify({ itemsReceived: items, itemsAccepted: items, errors: [] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;

  process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";
  // The distro takes its metric export interval from here only (default 60 s).
  process.env.OTEL_METRIC_EXPORT_INTERVAL = "1000";
  // Statsbeat reports to Microsoft's own endpoint, which this machine cannot reach.
  process.env.APPLICATION_INSIGHTS_NO_STATSBEAT = "true";
  process.env.APPLICATIONINSIGHTS_STATSBEAT_DISABLED = "true";

  const config = loadConfig({
    AzureWebJobsStorage: "UseDevelopmentStorage=true",
    APPLICATIONINSIGHTS_CONNECTION_STRING: `InstrumentationKey=00000000-0000-4000-8000-00000000c0de;IngestionEndpoint=${endpoint};LiveEndpoint=${endpoint}`,
  });
  expect(config.telemetry).toBeDefined();
  await startTelemetry(config.telemetry);
  pipeline = await startPipeline({ log: appLogger({ console: false }), simulator: { settleDelayMs: 200 } });
});

afterAll(async () => {
  await pipeline?.stop();
  await stopTelemetry();
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe("telemetry with a connection string", () => {
  it("exports metrics, Graph spans and structured logs to the ingestion endpoint, with no secrets", { timeout: 90_000 }, async () => {
    expect(telemetryState()).toEqual({ enabled: true, functionsInstrumented: false });
    const devices = makeDevices(6, "OTEL").map((d, i) => ({
      ...d,
      productKey: `QWERT-ASDFG-ZXCVB-POIUY-LKJH${i}`,
      assignedUserPrincipalName: `otel.user${i}@fabrikam.example`,
    }));
    pipeline.simulator.registerDevice(TENANT_A, { serialNumber: devices[0]!.serialNumber });
    pipeline.simulator.injectFaults({
      kind: "status",
      status: 429,
      retryAfterSeconds: 1,
      times: 1,
      match: { serialNumber: devices[1]!.serialNumber },
    });

    const response = await fetch(`${pipeline.api}/imports`, {
      method: "POST",
      headers: { ...pipeline.headers, "content-type": "application/json" },
      body: JSON.stringify({ tenantId: TENANT_A, devices }),
    });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };
    const final = await waitForBatch(pipeline, id, 60_000);
    expect(final.counts).toMatchObject({ imported: 5, failed: 1 });

    const arrived = (needle: string) => bodies.some((body) => body.includes(needle));
    const expected = [
      METRIC_NAMES.accepted,
      METRIC_NAMES.submitted,
      METRIC_NAMES.imported,
      METRIC_NAMES.failed,
      METRIC_NAMES.graphDuration,
      METRIC_NAMES.graphThrottled,
      METRIC_NAMES.queueAge,
      "graph import", // the span of an import action (the batch's chunk), as a dependency
      "batch accepted", // a log record
      id, // the batch id, as a log attribute
    ];
    const deadline = Date.now() + 45_000;
    while (!expected.every(arrived) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 250));
    expect(expected.filter((needle) => !arrived(needle))).toEqual([]);

    // The log record arrives structured: its fields are the item's properties.
    const items = bodies.flatMap((body) => {
      try {
        const parsed = JSON.parse(body.slice(body.indexOf("\n") + 1)) as unknown;
        return Array.isArray(parsed)
          ? (parsed as { data?: { baseType?: string; baseData?: { message?: string; properties?: Record<string, string> } } }[])
          : [];
      } catch {
        return [];
      }
    });
    const accepted = items.find((item) => item.data?.baseType === "MessageData" && item.data.baseData?.message === "batch accepted");
    expect(accepted?.data?.baseData?.properties).toMatchObject({ batchId: id, tenantId: TENANT_A, deviceCount: "6" });

    const everything = bodies.join("\n");
    // A failed device is counted by its code, and Graph's latency by operation and status.
    expect(everything).toMatch(/"error\.code":"806"/);
    expect(everything).toMatch(/"http\.response\.status_code":"429"/);
    const secrets = [
      ...devices.flatMap((d) => [d.hardwareIdentifier.slice(0, 40), d.productKey, d.assignedUserPrincipalName]),
      pipeline.partner.apiKey,
      // The storage account key (Azurite's is public, a real one is not).
      /AccountKey=([^;]+)/.exec(pipeline.azurite.connectionString)![1]!,
    ];
    expect(secrets.filter((secret) => everything.includes(secret))).toEqual([]);
    expect(everything).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/);
  });
});
