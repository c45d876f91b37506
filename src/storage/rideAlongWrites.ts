import type { TableClient, TableEntity, TransactionAction } from "@azure/data-tables";
import { isPreconditionFailed } from "./tableErrors.js";

/** An entity-group transaction holds at most 100 entities of one partition. */
const TRANSACTION_LIMIT = 100;

/**
 * How long a write may wait for a carrier before it goes alone. One second: at Intune's pace
 * (a write slot every ~206 ms per tenant) an instance of four claims a device of the same batch
 * about every 0.8 s, so most writes find a carrier; the wait adds at most this much to the
 * invocation that asked for it.
 */
export const RIDE_ALONG_WAIT_MS = 1_000;

/**
 * At most this many writes wait at once on an instance; past it, the longest-waiting batch's go
 * alone at once. A waiting write holds its invocation, and the host runs only so many at once
 * (host.json: 16 + 8): with many small batches, whose claims rarely come to carry anything,
 * unbounded waiting held most of them for the whole second and cut an instance's creates to a
 * few dozen a second (the fault suite's fuzzed intake). One busy batch keeps one or two waiting.
 */
export const MAX_WAITING_WRITES = 8;

interface Rider {
  entity: TableEntity;
  etag: string;
  done(error?: unknown): void;
}

/**
 * Row-alone, ETag-conditional writes that need not go out at once (recording a create's Graph
 * id) wait here for a write that must (a claim) to the same partition, and ride in its
 * entity-group transaction: one storage transaction for both instead of two. A write that
 * finds no carrier within the wait goes alone, with any others waiting beside it. The caller's
 * promise settles only once its row is written, so nothing is acknowledged before it is durable.
 *
 * A transaction either writes every row or none, and a 412 does not say which row had moved:
 * then each row is written alone, so one moved row fails only its own write.
 */
export class RideAlongWrites {
  private readonly waiting = new Map<string, Rider[]>();

  constructor(
    private readonly table: TableClient,
    private readonly maxWaitMs = RIDE_ALONG_WAIT_MS,
    private readonly maxWaiting = MAX_WAITING_WRITES,
  ) {}

  /** Settles once `entity` is written under `etag`; rejects with its own write's error (412: the row moved). */
  ride(entity: TableEntity, etag: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const rider: Rider = { entity, etag, done: (error) => (error === undefined ? resolve() : reject(error)) };
      const partition = entity.partitionKey;
      const riders = this.waiting.get(partition);
      if (riders) riders.push(rider);
      else this.waiting.set(partition, [rider]);
      setTimeout(() => {
        if (this.waiting.get(partition)?.includes(rider)) void this.goAlone(partition);
      }, this.maxWaitMs);
      // The Map keeps partitions in the order their first waiting write came: the first waited longest.
      if (this.waitingCount > this.maxWaiting) void this.goAlone(this.waiting.keys().next().value!);
    });
  }

  /** Writes `entity` under `etag` now, carrying the rows waiting for its partition; its new ETag. Throws as updateEntity does. */
  async carry(entity: TableEntity, etag: string): Promise<string | undefined> {
    const riders = this.take(entity.partitionKey, TRANSACTION_LIMIT - 1);
    if (riders.length === 0) return (await this.table.updateEntity(entity, "Replace", { etag })).etag;
    try {
      const response = await this.table.submitTransaction([["update", entity, "Replace", { etag }], ...riders.map(action)]);
      for (const rider of riders) rider.done();
      return response.subResponses[0]?.etag || undefined;
    } catch (error) {
      if (!isPreconditionFailed(error)) {
        for (const rider of riders) rider.done(error);
        throw error;
      }
      await this.eachAlone(riders);
      return (await this.table.updateEntity(entity, "Replace", { etag })).etag;
    }
  }

  /** Rows waiting now, for tests and for a clean shutdown. */
  get waitingCount(): number {
    let count = 0;
    for (const riders of this.waiting.values()) count += riders.length;
    return count;
  }

  private async goAlone(partition: string): Promise<void> {
    const riders = this.take(partition, TRANSACTION_LIMIT);
    if (riders.length === 0) return;
    if (riders.length === 1) return this.eachAlone(riders);
    try {
      await this.table.submitTransaction(riders.map(action));
      for (const rider of riders) rider.done();
    } catch (error) {
      if (!isPreconditionFailed(error)) {
        for (const rider of riders) rider.done(error);
        return;
      }
      await this.eachAlone(riders);
    }
  }

  private async eachAlone(riders: Rider[]): Promise<void> {
    await Promise.all(
      riders.map(async (rider) => {
        try {
          await this.table.updateEntity(rider.entity, "Replace", { etag: rider.etag });
          rider.done();
        } catch (error) {
          rider.done(error);
        }
      }),
    );
  }

  private take(partition: string, limit: number): Rider[] {
    const riders = this.waiting.get(partition);
    if (!riders) return [];
    const taken = riders.splice(0, limit);
    if (riders.length === 0) this.waiting.delete(partition);
    return taken;
  }
}

function action(rider: Rider): TransactionAction {
  return ["update", rider.entity, "Replace", { etag: rider.etag }];
}
