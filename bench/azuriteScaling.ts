/**
 * `npm run build && node dist/bench/azuriteScaling.js`: how Azurite's calls cost as its account
 * holds more. Not part of `npm run bench`; it answers one question the import action's bench
 * raised (README, "The import action"): does a queue call cost more when many delayed messages
 * wait, and a table call when a batch has many rows?
 *
 * Queues: for each N, a fresh Azurite, N messages sent invisible for 10 minutes (to the measured
 * queue, or to another queue of the same account), then SCAN_ROUNDS times one at a time: an empty
 * receive (32), a send, a receive of that message, its delete. Tables: for each N, a fresh
 * Azurite, N device-like rows (a 4 KB hash each) in one partition, then SCAN_ROUNDS times: a
 * point read, a range query of 100 rows (three columns), a transaction replacing 100 rows (the
 * whole row, hash included), and one merging three columns into 100 rows.
 * Prints the median and p90 of each call's time, and the rows as JSON. SCAN_SIZES (0,1000,2500,
 * 5000,10000), SCAN_ROUNDS (40), SCAN_PARTS (queues,tables).
 */
import { QueueClient } from "@azure/storage-queue";
import { TableClient, type TransactionAction } from "@azure/data-tables";
import { startAzurite } from "../src/dev/host/azurite.js";
import { makeHash } from "../test/support/devices.js";

const SIZES = (process.env.SCAN_SIZES ?? "0,1000,2500,5000,10000").split(",").map(Number);
const ROUNDS = Number(process.env.SCAN_ROUNDS ?? 40);
const BODY = Buffer.from(
  JSON.stringify({
    v: 1,
    kind: "submit",
    batchId: "00000000-0000-4000-8000-000000000000",
    rowKey: "device-000000",
    attempt: 1,
    slotAt: 0,
    shiftAt: 0,
    chunk: { first: "device-000000", size: 100 },
  }),
).toString("base64");

async function timed<T>(samples: number[], call: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const value = await call();
  samples.push(performance.now() - started);
  return value;
}

const quantile = (xs: number[], q: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
};
const cell = (name: string, xs: number[]) => `${name} ${quantile(xs, 0.5).toFixed(1)}/${quantile(xs, 0.9).toFixed(1)}`;

async function inParallel(count: number, width: number, one: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) await one(next++);
    }),
  );
}

async function queues(invisible: number, where: "same queue" | "other queue") {
  const azurite = await startAzurite();
  try {
    const queue = new QueueClient(azurite.connectionString, "scan");
    const other = new QueueClient(azurite.connectionString, "scan-other");
    await queue.create();
    await other.create();
    const filler = where === "same queue" ? queue : other;
    await inParallel(invisible, 16, () => filler.sendMessage(BODY, { visibilityTimeout: 600, messageTimeToLive: 3_600 }));
    const empty: number[] = [];
    const send: number[] = [];
    const receive: number[] = [];
    const del: number[] = [];
    for (let k = 0; k < ROUNDS; k++) {
      await timed(empty, () => queue.receiveMessages({ numberOfMessages: 32, visibilityTimeout: 60 }));
      await timed(send, () => queue.sendMessage(BODY));
      const got = await timed(receive, () => queue.receiveMessages({ numberOfMessages: 32, visibilityTimeout: 60 }));
      for (const m of got.receivedMessageItems) await timed(del, () => queue.deleteMessage(m.messageId, m.popReceipt));
    }
    console.log(
      `queue: ${String(invisible).padStart(6)} invisible messages (${where}); ms median/p90: ${[cell("empty receive", empty), cell("send", send), cell("receive", receive), cell("delete", del)].join(", ")}`,
    );
    return {
      kind: "queue",
      invisible,
      where,
      emptyReceiveMs: quantile(empty, 0.5),
      sendMs: quantile(send, 0.5),
      receiveMs: quantile(receive, 0.5),
      deleteMs: quantile(del, 0.5),
    };
  } finally {
    await azurite.stop();
  }
}

const rowKey = (i: number) => `device-${String(i).padStart(6, "0")}`;
const row = (i: number) => ({
  partitionKey: "batch",
  rowKey: rowKey(i),
  index: i,
  serialNumber: `S-${i}`,
  hardwareIdentifier: makeHash(i, 3_000),
  tenantId: "t",
  state: "queued",
  attempts: 0,
});

async function tables(rows: number) {
  const azurite = await startAzurite();
  try {
    const table = TableClient.fromConnectionString(azurite.connectionString, "scan", { allowInsecureConnection: true });
    await table.createTable();
    const total = Math.max(rows, 200);
    await inParallel(Math.ceil(total / 100), 4, (k) =>
      table.submitTransaction(
        Array.from({ length: Math.min(100, total - k * 100) }, (_, j): TransactionAction => ["create", row(k * 100 + j)]),
      ),
    );
    const point: number[] = [];
    const range: number[] = [];
    const batch: number[] = [];
    const merged: number[] = [];
    for (let k = 0; k < ROUNDS; k++) {
      const at = (k * 97) % (total - 100);
      await timed(point, () => table.getEntity("batch", rowKey(at)));
      await timed(range, async () => {
        for await (const _ of table.listEntities({
          queryOptions: {
            filter: `PartitionKey eq 'batch' and RowKey ge '${rowKey(at)}' and RowKey lt '${rowKey(at + 100)}'`,
            select: ["RowKey", "state", "attempts"],
          },
        }));
      });
      await timed(batch, () =>
        table.submitTransaction(
          Array.from({ length: 100 }, (_, j): TransactionAction => [
            "update",
            { ...row(at + j), state: "submitting", attempts: k + 1 },
            "Replace",
          ]),
        ),
      );
      await timed(merged, () =>
        table.submitTransaction(
          Array.from({ length: 100 }, (_, j): TransactionAction => [
            "update",
            { partitionKey: "batch", rowKey: rowKey(at + j), state: "submitting", attempts: k + 1, claimedBy: "leader" },
            "Merge",
          ]),
        ),
      );
    }
    console.log(
      `table: ${String(rows).padStart(6)} rows in the partition; ms median/p90: ${[cell("point read", point), cell("range query (100)", range), cell("transaction (100 replaced)", batch), cell("transaction (100 merged, 3 columns)", merged)].join(", ")}`,
    );
    return {
      kind: "table",
      rows,
      pointReadMs: quantile(point, 0.5),
      rangeQueryMs: quantile(range, 0.5),
      replaceTransactionMs: quantile(batch, 0.5),
      mergeTransactionMs: quantile(merged, 0.5),
    };
  } finally {
    await azurite.stop();
  }
}

const PARTS = (process.env.SCAN_PARTS ?? "queues,tables").split(",");
const results = [];
if (PARTS.includes("queues")) {
  for (const size of SIZES) results.push(await queues(size, "same queue"));
  for (const size of SIZES.filter((s) => s > 0)) results.push(await queues(size, "other queue"));
}
if (PARTS.includes("tables")) for (const size of SIZES.filter((s) => s > 0)) results.push(await tables(size));
console.log(JSON.stringify(results));
