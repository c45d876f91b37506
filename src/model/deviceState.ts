/**
 * The life of one device, as the pipeline records it:
 *
 *   queued ◄─► submitting ──► submitted ──► imported
 *     │          │  ▲  │           │
 *     │          ▼  │  └───────────┴──────► failed ┄┄► retrying (an explicit retry)
 *     │        retrying ──────────────────► failed
 *     └──────────┴─────────► canceled
 *
 * `submitting` means an attempt holds the device (a create may be in flight), or the create
 * answered 201 and its Graph id is stored (riding with a later write, at no counter cost) but no
 * poll round has followed it yet. An attempt whose tenant paused before its slot gives its devices
 * back as they were, unsent (to queued, or to retrying). `submitted` means a round found the record by that id and
 * Intune is importing it in the background; a round may also take a submitting device straight
 * to `imported` or `failed`. `canceled`: the batch
 * was canceled before this device reached Graph (from queued or retrying, or from submitting
 * when the attempt failed transiently after the cancel).
 * `imported`, `failed` and `canceled` are final: no message acts on them. Only a caller's retry
 * (POST /api/imports/{id}/retry) moves a failed device on again, to `retrying`.
 */
export const DEVICE_STATES = ["queued", "submitting", "retrying", "submitted", "imported", "failed", "canceled"] as const;
export type DeviceState = (typeof DEVICE_STATES)[number];

/**
 * The states a batch's counters count. A device in a create attempt (submitting) is counted with
 * `queued`: taking a device for an attempt, the one write every device makes on its way to Graph,
 * is then a write of its row alone and not of a counter shard too (the shards are where
 * concurrent instances race). The attempt lasts a Graph round-trip; the device list shows it.
 */
export const COUNTED_STATES = ["queued", "retrying", "submitted", "imported", "failed", "canceled"] as const;
export type CountedState = (typeof COUNTED_STATES)[number];

/** A batch's devices by state, a device in a create attempt counted as queued (countedState). */
export type StateCounts = Record<CountedState, number>;

export function emptyCounts(): StateCounts {
  return { queued: 0, retrying: 0, submitted: 0, imported: 0, failed: 0, canceled: 0 };
}

export function countedState(state: DeviceState): CountedState {
  return state === "submitting" ? "queued" : state;
}

export const FINAL_DEVICE_STATES: ReadonlySet<DeviceState> = new Set(["imported", "failed", "canceled"]);

const NEXT_STATES: Record<DeviceState, ReadonlySet<DeviceState>> = {
  queued: new Set(["submitting", "failed", "canceled"]),
  // submitting → submitting: the same delivery took the device again after its host died mid-attempt.
  // submitting → queued: an attempt gave its devices back unsent (its tenant paused before its slot; processChunk.ts, giveBack).
  submitting: new Set(["queued", "submitting", "retrying", "submitted", "imported", "failed", "canceled"]),
  retrying: new Set(["submitting", "failed", "canceled"]),
  submitted: new Set(["submitted", "imported", "failed"]),
  // imported → imported: following the device to its Autopilot profile (a batch with followUntil profileAssigned).
  imported: new Set(["imported"]),
  failed: new Set(["retrying"]),
  canceled: new Set(),
};

export function isFinal(state: DeviceState): boolean {
  return FINAL_DEVICE_STATES.has(state);
}

/** Devices of a batch that are done, whichever way. */
export function settledCount(counts: Readonly<Record<CountedState, number>>): number {
  return counts.imported + counts.failed + counts.canceled;
}

export function canTransition(from: DeviceState, to: DeviceState): boolean {
  return NEXT_STATES[from].has(to);
}

export class IllegalTransitionError extends Error {
  constructor(
    readonly from: DeviceState,
    readonly to: DeviceState,
  ) {
    super(`A device cannot go from ${from} to ${to}`);
    this.name = "IllegalTransitionError";
  }
}

export function assertTransition(from: DeviceState, to: DeviceState): void {
  if (!canTransition(from, to)) throw new IllegalTransitionError(from, to);
}
