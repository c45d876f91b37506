import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeCsv, makeDevices, makeHash } from "../support/devices.js";
import { post, startFaultWorld, type FaultWorld } from "./support/faultWorld.js";
import type { AcceptedBatch } from "./support/ledger.js";
import { printLocalRows, recordScenario } from "./support/resultsTable.js";
import { faultScale } from "./support/scale.js";

/**
 * Scenario 8: property-based fuzzing of intake over HTTP. Random and mutated JSON and CSV bodies,
 * media types and sizes, against the real host and Azurite. For every request: never a 5xx;
 * a rejection is problem+json naming its cause (a stable type other than internal-error, a
 * title, the status, a detail) and writes nothing (no row, no journal entry, so no message);
 * and whatever was accepted runs to the end like any batch.
 */
let world: FaultWorld;
let api: string;
const MAX_BODY = 64 * 1024;
const MAX_DEVICES = 20;

beforeAll(async () => {
  world = await startFaultWorld();
  // Small limits, so the fuzzer reaches 413 with bodies of a few kilobytes.
  ({ api } = await world.startHost(
    world.hostEnv({
      IMPORT_MAX_BODY_BYTES: String(MAX_BODY),
      IMPORT_MAX_DEVICES: String(MAX_DEVICES),
      HASH_MIN_BYTES: "16",
      INTAKE_RATE_PER_MINUTE: "100000",
      INTAKE_RATE_BURST: "100000",
    }),
  ));
});
afterAll(async () => {
  await world?.stop();
  printLocalRows();
});

// Small hashes (120 bytes: serial number and manufacturer only), so a batch of twenty stays far below the body limit.
const devices = (n: number, seed: number, prefix: string) =>
  makeDevices(n, `${prefix}${seed}`).map((d, i) => ({ ...d, hardwareIdentifier: makeHash(seed * 100 + i, 120, d.serialNumber) }));
const validJson = (n: number, seed: number) => JSON.stringify({ groupTag: "Fuzz", devices: devices(n, seed, "FUZZ") });
const validCsv = (n: number, seed: number) => makeCsv(devices(n, seed, "FUZZCSV")).toString("utf8");

/** A text with random damage: a slice cut out, random text spliced in, or cut short. */
const mutated = (base: fc.Arbitrary<string>) =>
  fc
    .tuple(
      base,
      fc.array(fc.tuple(fc.nat(), fc.nat({ max: 40 }), fc.string({ unit: "binary", maxLength: 12 })), { maxLength: 4 }),
      fc.option(fc.nat()),
    )
    .map(([text, edits, cut]) => {
      let out = text;
      for (const [at, length, insert] of edits) {
        const i = out.length ? at % out.length : 0;
        out = out.slice(0, i) + insert + out.slice(i + length);
      }
      return cut === null ? out : out.slice(0, out.length ? cut % (out.length + 1) : 0);
    });

const devicesCount = fc.integer({ min: 0, max: MAX_DEVICES + 3 });
const seed = fc.integer({ min: 1, max: 1_000_000 });
const jsonTypes = fc.constantFrom("application/json", "application/json; charset=utf-8", "application/vnd.partner+json");
const csvTypes = fc.constantFrom("text/csv", "application/csv", "text/csv; charset=utf-8");
const anyType = fc.constantFrom(
  "application/json",
  "text/csv",
  "application/csv",
  "text/csv; charset=utf-16",
  "text/csv; charset=nonsense",
  "application/json; charset=latin1",
  "text/plain",
  "application/xml",
  "multipart/form-data; boundary=x",
  "",
);
const orMutated = (base: fc.Arbitrary<string>) => fc.oneof(base, mutated(base));
/** A body and its Content-Type: well-formed batches (some damaged), and anything at all. */
const request = fc.oneof(
  fc.record({
    payload: orMutated(fc.tuple(devicesCount, seed).map(([n, s]) => validJson(n, s))).map((t) => Buffer.from(t)),
    contentType: jsonTypes,
  }),
  fc.record({
    payload: orMutated(fc.tuple(devicesCount, seed).map(([n, s]) => validCsv(n, s))).map((t) => Buffer.from(t)),
    contentType: csvTypes,
  }),
  fc.record({
    payload: fc.oneof(
      fc.json().map((j) => Buffer.from(j)),
      fc.jsonValue().map((v) => Buffer.from(JSON.stringify({ devices: [v] }))),
      fc.uint8Array({ maxLength: 2_000 }).map((b) => Buffer.from(b)),
      fc.integer({ min: MAX_BODY - 10, max: MAX_BODY + 4_000 }).map((size) => Buffer.alloc(size, "a")),
    ),
    contentType: anyType,
  }),
);

/**
 * Rows of the imports table outside the accepted batches' partitions: an accepted batch's rows keep
 * changing after its 202 (its fan-out writes its device rows from their pages), a rejected one's must never appear.
 */
async function rowsOutside(accepted: readonly AcceptedBatch[]): Promise<number> {
  const ids = new Set(accepted.map((b) => b.batchId));
  let rows = 0;
  for await (const row of world.services.storage.imports.listEntities({ queryOptions: { select: ["PartitionKey"] } }))
    if (!ids.has(row.partitionKey!)) rows++;
  return rows;
}

/** Batch ids in the intake journal: an accepted batch's entry stays until its fan-out has run (src/intake/fanOutBatch.ts). */
async function journalEntries(): Promise<string[]> {
  const ids: string[] = [];
  for await (const row of world.services.storage.intakeJournal.listEntities()) ids.push(row.rowKey!);
  return ids;
}

describe("fault 8: fuzzed intake", () => {
  it("never a 5xx, never a partial write, every rejection a problem naming its cause", async () => {
    const startedAt = Date.now();
    const accepted: AcceptedBatch[] = [];
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(request, async ({ payload, contentType }) => {
        const rowsBefore = await rowsOutside(accepted);
        const answer = await post(api, payload, contentType, world.partner.headers);
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        expect(answer.status).toBeLessThan(500);
        if (answer.status === 202) {
          const id = String(answer.body.id);
          accepted.push({ batchId: id, deviceCount: Number(answer.body.deviceCount) });
          return;
        }
        expect(answer.headers.get("content-type")).toContain("application/problem+json");
        expect(answer.body).toMatchObject({
          status: answer.status,
          type: expect.stringMatching(/^https?:\/\/\S+$/),
          title: expect.any(String),
          detail: expect.any(String),
        });
        expect(answer.body.type).not.toMatch(/internal-error$/);
        expect(String(answer.body.detail).length).toBeGreaterThan(0);
        expect(await rowsOutside(accepted)).toBe(rowsBefore);
        // No journal entry but those of accepted batches whose fan-out has not finished yet.
        const acceptedIds = new Set(accepted.map((b) => b.batchId));
        expect((await journalEntries()).filter((id) => !acceptedIds.has(id))).toEqual([]);
      }),
      { numRuns: faultScale({ short: 50, full: 400 }) },
    );
    // Both sides of the property were exercised: accepted batches and each kind of rejection.
    expect([...statuses.keys()].sort()).toEqual(expect.arrayContaining([202, 400, 413, 415]));
    const ledger = await world.settle(accepted, 60_000);
    recordScenario("8. fuzzed intake (accepted bodies)", ledger, startedAt);
    expect(ledger.lostKeys).toEqual([]);
    expect(ledger.duplicatedKeys).toEqual([]);
  }, 300_000);
});
