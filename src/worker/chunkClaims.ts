import type { SubmitMessage } from "../storage/deviceMessage.js";
import type { DeviceFields } from "../storage/importEntities.js";
import { judgeMessage } from "./messageGuard.js";

/** Reads the state of a chunk's rows: consecutive row keys from `first`, `size` of them. */
export interface ChunkStateReader {
  readDeviceStates(
    batchId: string,
    first: string,
    size: number,
  ): Promise<(Pick<DeviceFields, "state" | "attempts"> & { rowKey: string })[]>;
}

interface Entry {
  /** The devices of the chunk whose follower messages of this attempt are stale. */
  taken: Promise<ReadonlySet<string>>;
  at: number;
}

/** How long an instance keeps what it read of a chunk: its followers come together, within seconds. */
export const CHUNK_CLAIMS_TTL_MS = 120_000;
/** At most this many chunks remembered per instance (oldest forgotten first). */
export const CHUNK_CLAIMS_MAX_ENTRIES = 512;

/**
 * What a chunk's followers need to know, read once per instance for all of them: which devices
 * the chunk's leader (or anything after it) has taken past this attempt. A follower's usual
 * answer is "stale, drop me" (docs/ARCHITECTURE.md, "Chunks"); instead of a read of its own row
 * for each of a chunk's 99 followers, the first follower that reaches an instance reads the
 * chunk's states (one range query, three columns) and the others on that instance use it.
 *
 * Only "stale" is taken from here. It cannot turn back into "fresh" for the same message: a row's
 * attempts only grow, and a final device brought back by a batch retry gets messages of its own,
 * which make this one redundant. A device not known as taken is read from its row, as before.
 */
export class ChunkClaims {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly reader: ChunkStateReader,
    private readonly now: () => number = Date.now,
    private readonly ttlMs = CHUNK_CLAIMS_TTL_MS,
    private readonly maxEntries = CHUNK_CLAIMS_MAX_ENTRIES,
  ) {}

  /** True when this follower message is known to be stale; false when its own row must say. */
  async isStale(message: SubmitMessage): Promise<boolean> {
    const chunk = message.chunk;
    if (!chunk) return false;
    const key = `${message.batchId}/${chunk.first}/${chunk.size}/${message.attempt}`;
    const at = this.now();
    let entry = this.entries.get(key);
    if (entry && at - entry.at > this.ttlMs) {
      this.entries.delete(key);
      entry = undefined;
    }
    if (!entry) {
      const taken = this.reader
        .readDeviceStates(message.batchId, chunk.first, chunk.size)
        .then(
          (rows) =>
            new Set(rows.filter((row) => judgeMessage({ ...row, claimedBy: undefined }, message, "") === "stale").map((row) => row.rowKey)),
        );
      entry = { taken, at };
      this.entries.set(key, entry);
      // A failed read is not remembered: the next follower tries again.
      taken.catch(() => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      });
      while (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    }
    return (await entry.taken).has(message.rowKey);
  }

  /** What this instance read of the message's chunk is out of date (its own row said stale): read it again next time. */
  forget(message: SubmitMessage): void {
    if (message.chunk) this.entries.delete(`${message.batchId}/${message.chunk.first}/${message.chunk.size}/${message.attempt}`);
  }

  /** How many chunks this instance remembers (for tests). */
  get size(): number {
    return this.entries.size;
  }
}
