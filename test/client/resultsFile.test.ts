import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { pushIdempotencyKey, readPushInput } from "../../clients/typescript/src/cli/inputFile.js";
import { resultsCsv } from "../../clients/typescript/src/cli/resultsCsv.js";
import type { Device } from "../../clients/typescript/src/types.js";
import { makeCsv, makeDevices } from "../support/devices.js";

const outcome = (index: number, serialNumber: string, state: Device["state"], error?: Device["error"]): Device => ({
  index,
  serialNumber,
  state,
  attempts: 1,
  updatedAt: "2026-12-05T10:00:00.000Z",
  ...(error ? { error } : {}),
});

describe("the command line's files", () => {
  it("a results file pushed again sends the rows not imported, with their hashes intact", async () => {
    const dir = await mkdtemp(join(tmpdir(), "cli-results-"));
    const devices = makeDevices(3, "RES");
    // A hash a spreadsheet would take for a formula: guarded in the file, whole again when pushed.
    devices[2]!.hardwareIdentifier = `+${devices[2]!.hardwareIdentifier.slice(1)}`;
    const pushedPath = join(dir, "devices.csv");
    await writeFile(pushedPath, makeCsv(devices, { encoding: "utf16le" }));
    const pushed = await readPushInput(pushedPath);
    expect(pushed.devices.map((d) => d.serialNumber)).toEqual(["RES-00000", "RES-00001", "RES-00002"]);

    const csv = resultsCsv(
      [
        outcome(2, "RES-00002", "failed", { code: "806", name: "ZtdDeviceAlreadyAssigned", message: "=already registered" }),
        outcome(0, "res-00000", "imported"),
        outcome(1, "RES-00001", "failed", { code: "RetriesExhausted" }),
      ],
      pushed.devices,
    );
    const lines = csv.trim().split("\r\n");
    expect(lines[0]).toBe(
      "Device Serial Number,Windows Product ID,Hardware Hash,Group Tag,Assigned User,Outcome,Error Code,Error Name,Reason",
    );
    expect(lines[1]).toContain(`res-00000,,${devices[0]!.hardwareIdentifier},,,imported`);
    expect(lines[3]).toContain(`,'+`);
    expect(lines[3]).toContain(`'=already registered`);

    const resultsPath = join(dir, "results.csv");
    await writeFile(resultsPath, csv);
    const again = await readPushInput(resultsPath);
    expect(again.skippedImported).toBe(1);
    expect(again.devices).toEqual([
      { serialNumber: "RES-00001", hardwareIdentifier: devices[1]!.hardwareIdentifier },
      { serialNumber: "RES-00002", hardwareIdentifier: devices[2]!.hardwareIdentifier },
    ]);
    expect(new TextDecoder().decode(again.body).split("\n")[0]).toBe(
      "Device Serial Number,Windows Product ID,Hardware Hash,Group Tag,Assigned User",
    );
  });

  it("derives the Idempotency-Key from the file's contents and the options", async () => {
    const dir = await mkdtemp(join(tmpdir(), "cli-key-"));
    const path = join(dir, "devices.json");
    await writeFile(path, JSON.stringify({ devices: makeDevices(1, "KEY") }));
    const input = await readPushInput(path);
    const key = pushIdempotencyKey(input, { tenant: "contoso.onmicrosoft.com" });
    expect(key).toMatch(/^autopilot-import-cli-[0-9a-f]{64}$/);
    expect(pushIdempotencyKey(await readPushInput(path), { tenant: "contoso.onmicrosoft.com" })).toBe(key);
    expect(pushIdempotencyKey(input, { tenant: "fabrikam.onmicrosoft.com" })).not.toBe(key);
    expect(pushIdempotencyKey(input, { tenant: "contoso.onmicrosoft.com", groupTag: "Sales" })).not.toBe(key);
    await writeFile(path, JSON.stringify({ devices: makeDevices(2, "KEY") }));
    expect(pushIdempotencyKey(await readPushInput(path), { tenant: "contoso.onmicrosoft.com" })).not.toBe(key);
  });
});
