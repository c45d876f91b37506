/**
 * `node dist/bench/tableWriteProbe.js`: how long Azurite takes to write a 10,000-device batch's
 * rows (4 KB hashes) as intake does, in transactions of 100, at a few concurrencies. For finding
 * where intake's time goes; not part of `npm run bench`.
 */
import { TableClient } from "@azure/data-tables";
import { startAzurite } from "../src/dev/host/azurite.js";
import { makeDevices } from "../test/support/devices.js";

const azurite = await startAzurite();
// PROBE_SMALL=1: the rows without their hashes, to tell the cost of rows from the cost of bytes.
const devices = makeDevices(Number(process.env.PROBE_DEVICES ?? 10_000), "PROBE").map((d) =>
  process.env.PROBE_SMALL ? { ...d, hardwareIdentifier: "x" } : d,
);
console.log(`hash length ${devices[0]!.hardwareIdentifier.length}`);
let table = 0;
for (const concurrency of (process.env.PROBE_CONCURRENCY ?? "1,4,32").split(",").map(Number)) {
  const client = TableClient.fromConnectionString(azurite.connectionString, `probe${++table}`, { allowInsecureConnection: true });
  await client.createTable();
  const chunks: ReturnType<typeof rows>[] = [];
  for (let i = 0; i < devices.length; i += 100) chunks.push(rows(i));
  function rows(from: number) {
    return devices
      .slice(from, from + 100)
      .map(
        (d, k) =>
          [
            "upsert",
            { partitionKey: "batch", rowKey: `device-${String(from + k).padStart(6, "0")}`, ...d, state: "queued", attempts: 0 },
            "Replace",
          ] as ["upsert", Record<string, unknown> & { partitionKey: string; rowKey: string }, "Replace"],
      );
  }
  const started = performance.now();
  let next = 0;
  const times: number[] = [];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < chunks.length) {
        const chunk = chunks[next++]!;
        const t = performance.now();
        await client.submitTransaction(chunk);
        times.push(performance.now() - t);
      }
    }),
  );
  times.sort((a, b) => a - b);
  console.log(
    `concurrency ${concurrency}: ${Math.round(performance.now() - started)} ms for ${chunks.length} transactions; each p50 ${Math.round(times[times.length >> 1]!)} ms, max ${Math.round(times.at(-1)!)} ms`,
  );
}
await azurite.stop();
process.exit(0);
