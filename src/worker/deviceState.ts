/**
 * The life of one device, as the pipeline records it:
 *
 *   queued ──► submitting ──► submitted ──► imported
 *                │  ▲  │           │
 *                ▼  │  └───────────┴──────► failed
 *              retrying ──────────────────► failed
 *
 * `submitting` means an attempt holds the device (a create may be in flight); `submitted`
 * means Graph answered 201 and the import is running in the background.
 * Only `imported` and `failed` are final.
 */
export const DEVICE_STATES = ["queued", "submitting", "retrying", "submitted", "imported", "failed"] as const;
export type DeviceState = (typeof DEVICE_STATES)[number];

export const FINAL_DEVICE_STATES: ReadonlySet<DeviceState> = new Set(["imported", "failed"]);

const NEXT_STATES: Record<DeviceState, ReadonlySet<DeviceState>> = {
  queued: new Set(["submitting", "failed"]),
  // submitting → submitting: the same delivery took the device again after its host died mid-attempt.
  submitting: new Set(["submitting", "retrying", "submitted", "imported", "failed"]),
  retrying: new Set(["submitting", "failed"]),
  submitted: new Set(["submitted", "imported", "failed"]),
  imported: new Set(),
  failed: new Set(),
};

export function isFinal(state: DeviceState): boolean {
  return FINAL_DEVICE_STATES.has(state);
}

export function canTransition(from: DeviceState, to: DeviceState): boolean {
  return NEXT_STATES[from].has(to);
}

export class IllegalTransitionError extends Error {
  constructor(readonly from: DeviceState, readonly to: DeviceState) {
    super(`A device cannot go from ${from} to ${to}`);
    this.name = "IllegalTransitionError";
  }
}

export function assertTransition(from: DeviceState, to: DeviceState): void {
  if (!canTransition(from, to)) throw new IllegalTransitionError(from, to);
}
