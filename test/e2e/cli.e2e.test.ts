import { execFile } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../clients/typescript/src/cli/main.js";
import type { CliStream } from "../../clients/typescript/src/cli/io.js";
import { makeCsv, makeDevices } from "../support/devices.js";
import { allDevices, startPipeline, TENANT_A, type Pipeline } from "../support/pipeline.js";

/**
 * The autopilot-import command line against the development host (Azurite, the Graph
 * simulator): run in-process with captured streams, and once as the installed bin.
 */
let pipeline: Pipeline;
let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  pipeline = await startPipeline();
  dir = await mkdtemp(join(tmpdir(), "autopilot-import-cli-"));
  env = { AUTOPILOT_IMPORT_URL: pipeline.api, AUTOPILOT_IMPORT_API_KEY: pipeline.partner.apiKey };
});
afterAll(async () => pipeline?.stop());

class Captured implements CliStream {
  text = "";
  constructor(readonly isTTY = false) {}
  write(chunk: string) {
    this.text += chunk;
    return true;
  }
}

async function cli(args: string[], options: { env?: Record<string, string>; tty?: boolean } = {}) {
  const stdout = new Captured();
  const stderr = new Captured(options.tty ?? false);
  const code = await main(args, { stdout, stderr, env: options.env ?? env });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

async function csvFile(name: string, prefix: string, count: number): Promise<{ path: string; serials: string[] }> {
  const devices = makeDevices(count, prefix);
  const path = join(dir, name);
  await writeFile(path, makeCsv(devices));
  return { path, serials: devices.map((d) => d.serialNumber) };
}

const batchIdOf = (stdout: string) => /batch ([0-9a-f-]{36})/.exec(stdout)![1]!;

describe("autopilot-import", () => {
  it("pushes a CSV, follows it to the end with plain lines off a terminal, and writes every outcome (exit 1: some failed)", async () => {
    const { path, serials } = await csvFile("some-fail.csv", "CLIFAIL", 4);
    pipeline.simulator.registerDevice(TENANT_A, { serialNumber: serials[3]! });
    const out = join(dir, "some-fail-results.csv");

    const first = await cli(["push", path, "--tenant", TENANT_A, "--wait", "--out", out]);
    expect(first.code, first.stderr).toBe(1);
    const id = batchIdOf(first.stdout);
    expect(first.stdout).toContain(`Pushed 4 devices: batch ${id}.`);
    // Off a terminal: a line per change of the counts, no bar, no cursor control.
    expect(first.stderr).toMatch(new RegExp(`^${id}: 4/4 final \\(imported 3, failed 1, canceled 0`, "m"));
    expect(first.stderr).not.toContain("\u001b[");
    expect(first.stdout).toContain(`Batch ${id} partially_succeeded: 3 imported, 1 failed of 4.`);
    expect(first.stdout).toMatch(/Failures by reason:\n {2}806 ZtdDeviceAlreadyAssigned \(1\): CLIFAIL-00003/);
    expect(first.stdout).not.toContain(pipeline.partner.apiKey);

    const rows = (await readFile(out, "utf8")).trim().split("\r\n");
    expect(rows).toHaveLength(5);
    expect(rows[4]).toMatch(/^CLIFAIL-00003,,[A-Za-z0-9+/=']+,,,failed,806,ZtdDeviceAlreadyAssigned,/);
    expect(rows.slice(1, 4).every((row) => row.includes(",imported,"))).toBe(true);

    // The same file again, as after a dropped connection: the first batch, never a second.
    const again = await cli(["push", path, "--tenant", TENANT_A, "--wait"]);
    expect(again.code).toBe(1);
    expect(again.stdout).toContain(`This file was already pushed with these options: batch ${id} (4 devices). No second batch was made.`);
    expect(await allDevices(pipeline, id)).toHaveLength(4);
    const batches = await (await fetch(`${pipeline.api}/imports?pageSize=100`, { headers: pipeline.headers })).json();
    expect((batches as { value: { deviceCount: number; id: string }[] }).value.filter((b) => b.id === id)).toHaveLength(1);

    // Its results file pushed again sends only the failed row (which fails the same way).
    const repush = await cli(["push", out, "--tenant", TENANT_A, "--wait"]);
    expect(repush.stderr).toContain("Skipping 3 rows already imported.");
    expect(repush.stdout).toContain("Pushed 1 devices");
    expect(repush.code).toBe(1);

    const failed = await cli(["devices", id, "--status", "failed"]);
    expect(failed.code).toBe(0);
    expect(failed.stdout.trim().split("\n")).toEqual([
      expect.stringMatching(/^3\tCLIFAIL-00003\tfailed {2}806 ZtdDeviceAlreadyAssigned: /),
    ]);
    expect((await cli(["status", id])).stdout).toContain(`Batch ${id} partially_succeeded: 4/4 final`);
    expect((await cli(["retry", id])).code).toBe(1);
  });

  it("exits 0 when every device imported, with a live bar on a terminal", async () => {
    const { path } = await csvFile("all-good.csv", "CLIGOOD", 3);
    const run = await cli(["push", path, "--tenant", TENANT_A, "--group-tag", "Sales", "--wait"], { tty: true });
    expect(run.code, run.stderr).toBe(0);
    const id = batchIdOf(run.stdout);
    expect(run.stderr).toMatch(/3\/3 final \| imported 3 failed 0 canceled 0 \| in progress 0/);
    expect(run.stderr).toContain("█");
    expect(run.stdout).toContain(`Batch ${id} succeeded: 3 imported, 0 failed of 3.`);
    expect((await allDevices(pipeline, id)).every((d) => d.groupTag === "Sales")).toBe(true);
    expect((await cli(["status", id, "--wait"])).code).toBe(0);

    // Erasing it: only with --yes, since it cannot be undone; then the batch is not found.
    const asked = await cli(["erase", id]);
    expect(asked.code).toBe(2);
    expect(asked.stderr).toContain(`autopilot-import erase ${id} --yes`);
    expect((await cli(["status", id])).code).toBe(0);
    const erased = await cli(["erase", id, "--yes"]);
    expect(erased, erased.stderr).toMatchObject({ code: 0, stdout: `Erased batch ${id}.\n` });
    expect(await cli(["status", id])).toMatchObject({ code: 1, stderr: expect.stringContaining("(404)") });
    expect((await cli(["erase", id, "--yes"])).code).toBe(1);
  });

  it("exits 2 on usage, configuration and connection errors, and 1 when the API refuses", async () => {
    expect((await cli(["frobnicate"])).code).toBe(2);
    expect((await cli(["push"])).code).toBe(2);
    expect((await cli(["devices", "x", "--status", "lost"])).code).toBe(2);
    const noKey = await cli(["status", "6f1c1c9e-3c9f-4d5e-9b7a-0a1b2c3d4e5f"], { env: { AUTOPILOT_IMPORT_URL: pipeline.api } });
    expect(noKey).toMatchObject({ code: 2, stderr: expect.stringContaining("AUTOPILOT_IMPORT_API_KEY") });
    const badKey = await cli(["status", "6f1c1c9e-3c9f-4d5e-9b7a-0a1b2c3d4e5f"], {
      env: { ...env, AUTOPILOT_IMPORT_API_KEY: "apimp_nope_secret-never-printed" },
    });
    expect(badKey.code).toBe(2);
    expect(badKey.stderr).not.toContain("secret-never-printed");
    const unreachable = await cli(["status", "6f1c1c9e-3c9f-4d5e-9b7a-0a1b2c3d4e5f"], {
      env: { ...env, AUTOPILOT_IMPORT_URL: "http://127.0.0.1:9" },
    });
    expect(unreachable).toMatchObject({ code: 2, stderr: expect.stringContaining("cannot reach http://127.0.0.1:9") });
    expect((await cli(["push", join(dir, "missing.csv")])).code).toBe(2);

    const invalid = join(dir, "invalid.csv");
    await writeFile(invalid, "Device Serial Number,Hardware Hash\r\nX1,not base64!\r\n");
    const refused = await cli(["push", invalid, "--tenant", TENANT_A]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/error: .*\(400\)/);
    expect(refused.stderr).toMatch(/device 0, line 2: hardwareIdentifier: /);
  });

  it("runs as the installed bin, with plain output through a pipe", async () => {
    const { path } = await csvFile("bin.csv", "CLIBIN", 2);
    await promisify(execFile)(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "clients/typescript/tsconfig.json"]);
    const run = await promisify(execFile)("node_modules/.bin/autopilot-import", ["push", path, "--tenant", TENANT_A, "--wait"], {
      env: { ...process.env, ...env },
    });
    expect(run.stdout).toMatch(/Batch [0-9a-f-]{36} succeeded: 2 imported, 0 failed of 2\./);
    expect(run.stderr).toMatch(/: 2\/2 final \(imported 2,/);
    expect(run.stderr).not.toContain("\u001b[");
    const usage = await promisify(execFile)("node_modules/.bin/autopilot-import", ["push"], { env: { ...process.env, ...env } }).catch(
      (error: { code: number }) => error,
    );
    expect((usage as { code: number }).code).toBe(2);
  });
});
