import { emptyCounts, type DeviceState, type StateCounts } from "../model/deviceState.js";

/**
 * The `imports` table. One partition per batch holds everything about it, so a device's state
 * change and the batch's counters move together in one entity-group transaction:
 *
 *   RowKey "batch"          the batch header (BatchEntity)
 *   RowKey "counter-NN"     COUNTER_SHARDS counter rows; the batch's count per state is their sum
 *   RowKey "device-NNNNNN"  one row per device (DeviceEntity), NNNNNN its 0-based index in the batch
 *
 * Counters are sharded because every device of a batch would otherwise update one row, and
 * concurrent workers would spend their time losing ETag races on it. A shard holds signed
 * deltas: any worker may add to any shard, only the sum means anything.
 */
export const BATCH_ROW_KEY = "batch";
export const COUNTER_SHARDS = 16;
export const COUNTER_ROW_PREFIX = "counter-";
export const DEVICE_ROW_PREFIX = "device-";

export function counterRowKey(shard: number): string {
  return `${COUNTER_ROW_PREFIX}${String(shard).padStart(2, "0")}`;
}

export function deviceRowKey(index: number): string {
  return `${DEVICE_ROW_PREFIX}${String(index).padStart(6, "0")}`;
}

export type IntakeState = "enqueueing" | "accepted";

/** What a batch of the `imports` table is: an import (the column is absent) or a deregistration (src/deregistration). */
export type BatchKind = "import" | "deregistration";

export interface BatchEntity {
  partitionKey: string;
  rowKey: typeof BATCH_ROW_KEY;
  /** Absent on an import batch; "deregistration" on a deregistration batch, which no import route answers for. */
  kind?: BatchKind;
  /** The partner that submitted the batch; only it may read or change it. */
  partnerId: string;
  tenantId: string;
  orderIdentifier?: string;
  groupTag?: string;
  deviceCount: number;
  source: "json" | "csv";
  intakeState: IntakeState;
  createdAt: string;
  acceptedAt?: string;
  /** The batch's poll chain: the last round taken, by which message, and rounds in a row that found nothing new. */
  pollAttempt?: number;
  pollClaimedBy?: string;
  pollIdleRounds?: number;
  /** When the last round was taken: a chain silent far longer than its longest delay is restarted (restartStalledPolls.ts). */
  polledAt?: string;
  /** Where the batch's completion webhook goes (src/webhooks); never shown back whole, since its query may hold the receiver's secret. */
  callbackUrl?: string;
  /** Set by POST /api/imports/{id}/cancel: devices that have not reached Graph end as canceled. */
  canceledAt?: string;
  /** "off": the batch was accepted without the hardware-hash refusals (src/model/hashRules.ts). */
  hashCheck?: "off";
  /** JSON: the devices counted by manufacturer and model at intake (src/intake/deviceModels.ts, ModelCount[]). */
  deviceModels?: string;
  /** When the batch is erased, every row of it in every table: BATCH_RETENTION_DAYS after it became final. */
  expiresAt?: string;
  /** An erasure has begun (expiry or DELETE): from then on the batch is answered as not found. */
  erasingAt?: string;
  /** Set by the one worker that fails the batch's waiting devices because the tenant refuses the app. */
  tenantRefusedAt?: string;
  /** "profileAssigned": imported devices are followed to their Autopilot profile (absent: the import is the end). */
  followUntil?: FollowUntil;
  /** "update": a device already registered in the tenant (806) gets the batch's group tag and user instead of failing. */
  onExisting?: OnExisting;
}

export const FOLLOW_UNTIL = ["imported", "profileAssigned"] as const;
export type FollowUntil = (typeof FOLLOW_UNTIL)[number];
export const ON_EXISTING = ["fail", "update"] as const;
export type OnExisting = (typeof ON_EXISTING)[number];

/**
 * An imported device of a batch followed to its profile: `waiting` until its Autopilot device's
 * deploymentProfileAssignmentStatus begins with "assigned" (`assigned`), or until the time limit
 * or Intune's "failed" ends the wait (`notAssigned`). Counted on the counter shards beside the states.
 */
export const PROFILE_STATES = ["waiting", "assigned", "notAssigned"] as const;
export type ProfileState = (typeof PROFILE_STATES)[number];

/** What a device's note says: something the caller should know about an outcome that is not an error. */
export interface DeviceNote {
  code: "AlreadyRegisteredUpdated" | "AlreadyRegistered" | "NoProfileAssigned";
  message: string;
}

/** The profile counts a shard holds beside the state counts (ProfileState, prefixed). */
export const PROFILE_COUNT_KEYS = ["profileWaiting", "profileAssigned", "profileNotAssigned"] as const;
export type ProfileCountKey = (typeof PROFILE_COUNT_KEYS)[number];
export type ShardCounts = StateCounts & Record<ProfileCountKey, number>;

export function profileCountKey(state: ProfileState): ProfileCountKey {
  return state === "waiting" ? "profileWaiting" : state === "assigned" ? "profileAssigned" : "profileNotAssigned";
}

export interface CounterEntity extends ShardCounts {
  partitionKey: string;
  rowKey: string;
  /** Last time this shard moved; the batch's last activity is the latest of its shards. */
  updatedAt: string;
}

/** What a device row carries besides its keys. Secrets (hash, product key, UPN) live here and nowhere else. */
export interface DeviceFields {
  index: number;
  /** The CSV line the device came from, when it came from CSV. */
  line?: number;
  serialNumber: string;
  /** Removed, with the product key and assigned user, in the write that records the device imported: Intune keeps the device. */
  hardwareIdentifier?: string;
  productKey?: string;
  groupTag?: string;
  assignedUserPrincipalName?: string;
  orderIdentifier?: string;
  importId?: string;
  tenantId: string;
  /** Read from the hardware hash at intake (absent with hashCheck=off). */
  manufacturer?: string;
  model?: string;
  /** JSON array of warning codes (src/model/hashRules.ts, HASH_WARNINGS), e.g. ["no-tpm"]. */
  warnings?: string;

  state: DeviceState;
  /** Create attempts made (or begun) so far. */
  attempts: number;
  /** Transient failures (5xx, timeouts, dropped connections) so far; throttling is paced, not counted. */
  failures?: number;
  /** The last attempt failed in a way that may have created the record (timeout, 5xx, dropped connection). */
  inDoubt?: boolean;
  /** Since when it has been in doubt: the time of the write that may have gone through. A lookup finding nothing concludes only GRAPH_LIST_GRACE_MS after it. */
  inDoubtSince?: string;
  /** The queue message that last took hold of this device; lets the same message finish after a crash. */
  claimedBy?: string;
  graphId?: string;
  /**
   * The Graph call that decided the device's outcome (or, while retrying, its last attempt):
   * Graph's `request-id` and our `client-request-id`, for a support case.
   */
  graphRequestId?: string;
  graphClientRequestId?: string;
  /**
   * "serialNumber": the outcome was read from the tenant's only record with this serial number,
   * which had already finished when the lost create was looked for, so it may be another tool's
   * (docs/ARCHITECTURE.md, "Which record is ours"). Such a record is never deleted by us.
   */
  recordMatch?: "serialNumber";
  /**
   * The import action that carried this device answered without its record (204, an empty body,
   * or a 200 that left it out): Graph made the record, and the next poll round finds it by serial
   * number (recordOwnership.ts, decideActionRecord) and stores its id.
   */
  findRecordBySerial?: boolean;
  importStatus?: string;
  deviceRegistrationId?: string;
  errorCode?: string;
  errorName?: string;
  errorMessage?: string;
  nextAttemptAt?: string;
  /**
   * A chunk leader's row: the attempt whose chunk one of its followers sent again under a new
   * leader message, the leader's own having not come (processChunk.ts, followerAlone). Once per attempt.
   */
  chunkResentFor?: number;
  submittedAt?: string;
  createdAt: string;
  updatedAt: string;

  /** The batch's options, copied onto each device at intake so a worker needs no header read. */
  followUntil?: FollowUntil;
  onExisting?: OnExisting;
  /** When the import completed (or the existing registration was updated): the profile time limit counts from here. */
  importedAt?: string;
  /** The registered Autopilot device (windowsAutopilotDeviceIdentity id). */
  autopilotDeviceId?: string;
  profileState?: ProfileState;
  /** Intune's deploymentProfileAssignmentStatus as last read. */
  profileStatus?: string;
  profileAssignedAt?: string;
  /** The last poll round that looked for the device's Autopilot device. */
  profileCheckedAt?: string;
  /** onExisting "update": the update of the existing Autopilot device is scheduled (`updating`), and which attempt it is on. */
  existing?: "updating";
  existingAttempt?: number;
  /** DeviceNote[] as JSON. */
  notes?: string;
}

export interface DeviceEntity extends DeviceFields {
  partitionKey: string;
  rowKey: string;
}

export type StoredDevice = DeviceEntity & { etag: string };

export function emptyShardCounts(): ShardCounts {
  return { ...emptyCounts(), profileWaiting: 0, profileAssigned: 0, profileNotAssigned: 0 };
}

export function readNotes(device: Pick<DeviceFields, "notes">): DeviceNote[] {
  if (!device.notes) return [];
  try {
    const parsed: unknown = JSON.parse(device.notes);
    return Array.isArray(parsed) ? (parsed as DeviceNote[]) : [];
  } catch {
    return [];
  }
}

/** The device's notes with `note` added (one per code: a later one replaces an earlier, and so does it the codes in `replaces`). */
export function withNote(device: Pick<DeviceFields, "notes">, note: DeviceNote, replaces: readonly DeviceNote["code"][] = []): string {
  return JSON.stringify([...readNotes(device).filter((n) => n.code !== note.code && !replaces.includes(n.code)), note]);
}

/** The states a device can be canceled from: it has not reached Graph, and no attempt holds it. */
export const CANCELABLE_STATES = ["queued", "retrying"] as const;

/** What canceling a device writes on it (a cancel request, or the fan-out of a batch canceled before its rows existed). */
export function canceledChanges(at: string): Partial<DeviceFields> & { state: "canceled" } {
  return { state: "canceled", claimedBy: undefined, nextAttemptAt: undefined, inDoubt: undefined, inDoubtSince: undefined, updatedAt: at };
}

/** Whether a cancel moves this device: cancelable, and not a retry whose last create may have gone through (inDoubt), which is followed to its end. */
export function isCancelable(device: Pick<DeviceFields, "state" | "inDoubt">): boolean {
  return (CANCELABLE_STATES as readonly string[]).includes(device.state) && !device.inDoubt;
}
