import type { TableClient } from "@azure/data-tables";
import {
  counterRowKey,
  COUNTER_SHARDS,
  emptyShardCounts,
  PROFILE_COUNT_KEYS,
  profileCountKey,
  type CounterEntity,
  type DeviceFields,
  type ShardCounts,
} from "./importEntities.js";
import { countedState, type CountedState, type DeviceState, type StateCounts, emptyCounts } from "../model/deviceState.js";

interface CachedShard {
  etag: string;
  counts: ShardCounts;
}

export interface ShardLease {
  readonly shard: number;
  readonly rowKey: string;
  readonly etag: string;
  readonly counts: ShardCounts;
  release(newEtag?: string, newCounts?: ShardCounts): void;
  /** The shard changed under us (another instance wrote it): forget what we knew. */
  invalidate(): void;
}

/**
 * Hands out counter shards of a batch to the transitions running in this process, one
 * transition per shard at a time, and remembers each shard's ETag and counts after writing it.
 * A process that keeps writing the same few shards then needs no read before a write; another
 * instance writing the same shard costs one 412 and one re-read.
 */
export class CounterShardPool {
  private readonly known = new Map<string, CachedShard>();
  private readonly leased = new Set<string>();
  private readonly waiters: (() => void)[] = [];
  private readonly offset = Math.floor(Math.random() * COUNTER_SHARDS);

  constructor(
    private readonly table: TableClient,
    private readonly maxCached = 4096,
  ) {}

  async lease(batchId: string): Promise<ShardLease> {
    for (;;) {
      const shard = this.freeShard(batchId);
      if (shard !== undefined) return this.open(batchId, shard);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  private freeShard(batchId: string): number | undefined {
    for (let i = 0; i < COUNTER_SHARDS; i++) {
      const shard = (this.offset + i) % COUNTER_SHARDS;
      if (!this.leased.has(key(batchId, shard))) return shard;
    }
    return undefined;
  }

  private async open(batchId: string, shard: number): Promise<ShardLease> {
    const k = key(batchId, shard);
    this.leased.add(k);
    try {
      const cached = this.known.get(k) ?? (await this.read(batchId, shard));
      const release = (newEtag?: string, newCounts?: ShardCounts) => {
        if (newEtag && newCounts) this.remember(k, { etag: newEtag, counts: newCounts });
        this.leased.delete(k);
        this.waiters.shift()?.();
      };
      return {
        shard,
        rowKey: counterRowKey(shard),
        etag: cached.etag,
        counts: cached.counts,
        release,
        invalidate: () => this.known.delete(k),
      };
    } catch (error) {
      this.leased.delete(k);
      this.waiters.shift()?.();
      throw error;
    }
  }

  private async read(batchId: string, shard: number): Promise<CachedShard> {
    const entity = await this.table.getEntity<CounterEntity>(batchId, counterRowKey(shard));
    return { etag: entity.etag, counts: shardCountsOf(entity) };
  }

  private remember(k: string, value: CachedShard): void {
    if (this.known.size >= this.maxCached) {
      const oldest = this.known.keys().next().value;
      if (oldest !== undefined) this.known.delete(oldest);
    }
    this.known.delete(k);
    this.known.set(k, value);
  }
}

function key(batchId: string, shard: number): string {
  return `${batchId}/${shard}`;
}

export function countsOf(entity: Partial<StateCounts>): StateCounts {
  const counts = emptyCounts();
  for (const state of Object.keys(counts) as CountedState[]) counts[state] = Number(entity[state] ?? 0);
  return counts;
}

/** A shard's state and profile counts (absent columns: 0, as on shards written before profiles were counted). */
export function shardCountsOf(entity: Partial<ShardCounts>): ShardCounts {
  const counts = { ...emptyShardCounts(), ...countsOf(entity) };
  for (const key of PROFILE_COUNT_KEYS) counts[key] = Number(entity[key] ?? 0);
  return counts;
}

type Counted = Pick<DeviceFields, "state" | "profileState">;

/** The shard's counts after a device moved from one state and profile state to another. */
export function moveShardCounts(counts: ShardCounts, from: Counted, to: Counted): ShardCounts {
  const next = { ...counts, ...moveCount(counts, from.state, to.state) };
  if (from.profileState !== to.profileState) {
    if (from.profileState) next[profileCountKey(from.profileState)] -= 1;
    if (to.profileState) next[profileCountKey(to.profileState)] += 1;
  }
  return next;
}

/** Whether a move changes any count: a write of the row alone otherwise. */
export function movesCounts(from: Counted, to: Counted): boolean {
  return countedState(from.state) !== countedState(to.state) || from.profileState !== to.profileState;
}

/** The counts after a device moved; unchanged when both states are counted as one. */
export function moveCount<T extends StateCounts>(counts: T, from: DeviceState, to: DeviceState): T {
  const was = countedState(from);
  const is = countedState(to);
  if (was === is) return counts;
  return { ...counts, [was]: counts[was] - 1, [is]: counts[is] + 1 };
}
