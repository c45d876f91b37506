import { randomUUID } from "node:crypto";
import { hashKey, isBase64, serialKey } from "./deviceKeys.js";
import { hashNamesDevice } from "./hashReading.js";
import { documentedImportErrorName, INVALID_HARDWARE_HASH } from "./importErrors.js";
import { newRecord, type ImportedDeviceInput, type ImportedDeviceRecord } from "./records.js";
import { bySettleOrder, decideSimulatedSettlement, pendingTogether } from "./settling.js";
import type { SyncHistory } from "./syncPolicy.js";

/** One imported record plus what the simulator needs to settle and page it. */
export interface StoredImport {
  readonly seq: number;
  readonly tenantId: string;
  readonly appId: string;
  readonly createdAt: number;
  /** When an unsettled import turns from "unknown" to "pending"; undefined = it never does. */
  readonly pendingAt: number | undefined;
  readonly settleAt: number;
  /** From when list pages show the record (GET by id finds it at once). */
  readonly listedFrom: number;
  readonly hashKey: string | undefined;
  readonly serialKey: string | undefined;
  /** Read at create: answers may blank the record's hash (observed behaviour), the import still has it. */
  readonly hashReadable: boolean;
  readonly record: ImportedDeviceRecord;
}

/** When a new import changes, relative to its create; already multiplied by timeScale. */
export interface ImportTiming {
  settleDelayMs: number;
  /** undefined = straight from "unknown" to the outcome. */
  pendingAfterMs: number | undefined;
  listLagMs: number;
}

/** Everything the simulator keeps for one tenant; nothing is shared across tenants. */
class TenantState {
  /** Insertion order is creation (seq) order, which paging relies on. */
  readonly imports = new Map<string, StoredImport>();
  readonly importsByHash = new Map<string, Set<StoredImport>>();
  /** Autopilot registrations: what makes a later import fail with 806 here or 808 elsewhere. */
  readonly registeredHashes = new Set<string>();
  readonly registeredSerials = new Set<string>();
  readonly sync: SyncHistory = {};
}

/**
 * The simulated service's state. Imports settle lazily: `settleDue` runs before each request
 * is handled and settles, in creation order across all tenants, every import whose delay has
 * passed. Creation order across tenants matters because an import into one tenant can
 * register a device that decides another tenant's import (808).
 */
export class SimulatedImportStore {
  private readonly tenants = new Map<string, TenantState>();
  private readonly rejectedHashes = new Map<string, number>();
  private pending: StoredImport[] = [];
  /** Told of every import that completes, with the Autopilot device id it registered (the simulator adds that device). */
  onRegistered?: (stored: StoredImport, deviceRegistrationId: string) => void;
  // Lets settleDue skip the scan on the (usual) requests that arrive before anything is due.
  private nextDueAt = Number.POSITIVE_INFINITY;
  private nextSeq = 1;

  create(tenantId: string, appId: string, input: ImportedDeviceInput, now: number, timing: ImportTiming): StoredImport {
    const tenant = this.tenant(tenantId);
    const stored: StoredImport = {
      seq: this.nextSeq++,
      tenantId,
      appId,
      createdAt: now,
      pendingAt: timing.pendingAfterMs === undefined ? undefined : now + timing.pendingAfterMs,
      settleAt: now + timing.settleDelayMs,
      listedFrom: now + timing.listLagMs,
      hashKey: hashKey(input.hardwareIdentifier),
      serialKey: serialKey(input.serialNumber),
      hashReadable: hashNamesDevice(input.hardwareIdentifier),
      record: newRecord(randomUUID(), input),
    };
    tenant.imports.set(stored.record.id, stored);
    if (stored.hashKey) {
      let same = tenant.importsByHash.get(stored.hashKey);
      if (!same) tenant.importsByHash.set(stored.hashKey, (same = new Set()));
      same.add(stored);
    }
    this.pending.push(stored);
    this.nextDueAt = Math.min(this.nextDueAt, nextChangeAt(stored));
    return stored;
  }

  get(tenantId: string, id: string): StoredImport | undefined {
    return this.tenants.get(tenantId)?.imports.get(id);
  }

  /** In creation order. */
  list(tenantId: string): Iterable<StoredImport> {
    return this.tenants.get(tenantId)?.imports.values() ?? [];
  }

  /** What list pages may show at `now`: every record past its list lag, in creation order. */
  *listed(tenantId: string, now: number): Iterable<StoredImport> {
    for (const stored of this.list(tenantId)) if (stored.listedFrom <= now) yield stored;
  }

  /**
   * Removes the imported record only. A completed import's Autopilot registration stays, as
   * in Intune, where deleting imported records is routine clean-up. A record deleted before
   * it settles never settles and registers nothing.
   */
  delete(tenantId: string, id: string): boolean {
    const tenant = this.tenants.get(tenantId);
    const stored = tenant?.imports.get(id);
    if (!tenant || !stored) return false;
    tenant.imports.delete(id);
    if (stored.hashKey) {
      const same = tenant.importsByHash.get(stored.hashKey);
      same?.delete(stored);
      if (same?.size === 0) tenant.importsByHash.delete(stored.hashKey);
    }
    return true;
  }

  /**
   * Also turns unsettled imports "pending" once their time comes: a change of the stored
   * state rather than of the answers, so that records() and every answer agree.
   */
  settleDue(now: number): void {
    if (now < this.nextDueAt) return;
    for (const p of this.pending) {
      const state = p.record.state;
      if (p.pendingAt !== undefined && p.pendingAt <= now && state.deviceImportStatus === "unknown") state.deviceImportStatus = "pending";
    }
    const due = this.pending.filter((p) => p.settleAt <= now).sort(bySettleOrder);
    this.pending = this.pending.filter((p) => p.settleAt > now);
    this.nextDueAt = this.pending.reduce((min, p) => Math.min(min, nextChangeAt(p)), Number.POSITIVE_INFINITY);
    for (const stored of due) this.settle(stored);
  }

  registerDevice(tenantId: string, device: { serialNumber?: string; hardwareIdentifier?: string }): void {
    if (device.hardwareIdentifier !== undefined && !isBase64(device.hardwareIdentifier)) {
      throw new TypeError("registerDevice: hardwareIdentifier must be a base64 string");
    }
    const hash = hashKey(device.hardwareIdentifier);
    const serial = serialKey(device.serialNumber);
    if (!hash && !serial) throw new TypeError("registerDevice: give a serialNumber or a hardwareIdentifier");
    this.register(this.tenant(tenantId), hash, serial);
  }

  /** A deregistered device (its Autopilot device deleted): a later import of it no longer fails 806 or 808. */
  unregister(tenantId: string, keys: { hashKey?: string | undefined; serialKey?: string | undefined }): void {
    const tenant = this.tenants.get(tenantId);
    if (!tenant) return;
    if (keys.hashKey) tenant.registeredHashes.delete(keys.hashKey);
    if (keys.serialKey) tenant.registeredSerials.delete(keys.serialKey);
  }

  rejectHash(hardwareIdentifier: string, code = INVALID_HARDWARE_HASH): void {
    documentedImportErrorName(code); // fail at the call, not at some later settle
    const key = hashKey(hardwareIdentifier);
    if (!key) throw new TypeError("rejectHash: hardwareIdentifier must be a non-empty base64 string");
    this.rejectedHashes.set(key, code);
  }

  syncHistory(tenantId: string): SyncHistory {
    return this.tenant(tenantId).sync;
  }

  private settle(stored: StoredImport): void {
    const tenant = this.tenants.get(stored.tenantId);
    if (!tenant?.imports.has(stored.record.id)) return; // deleted while pending

    const outcome = decideSimulatedSettlement({
      hashReadable: stored.hashReadable,
      ...(stored.hashKey !== undefined && this.rejectedHashes.has(stored.hashKey)
        ? { rejectedCode: this.rejectedHashes.get(stored.hashKey)! }
        : {}),
      hasSerialNumber: stored.serialKey !== undefined,
      duplicatesPendingImport: this.duplicatesPendingImport(tenant, stored),
      registeredInSameTenant: isRegistered(tenant, stored),
      registeredInOtherTenant: [...this.tenants.values()].some((t) => t !== tenant && isRegistered(t, stored)),
    });

    const state = stored.record.state;
    if (outcome.status === "complete") {
      state.deviceImportStatus = "complete";
      state.deviceRegistrationId = randomUUID();
      this.register(tenant, stored.hashKey, stored.serialKey);
      this.onRegistered?.(stored, state.deviceRegistrationId);
    } else {
      state.deviceImportStatus = "error";
      state.deviceErrorCode = outcome.code;
      state.deviceErrorName = outcome.name;
    }
  }

  private duplicatesPendingImport(tenant: TenantState, stored: StoredImport): boolean {
    if (!stored.hashKey) return false;
    for (const other of tenant.importsByHash.get(stored.hashKey) ?? []) {
      if (pendingTogether(other, stored)) return true;
    }
    return false;
  }

  private register(tenant: TenantState, hash: string | undefined, serial: string | undefined): void {
    if (hash) tenant.registeredHashes.add(hash);
    if (serial) tenant.registeredSerials.add(serial);
  }

  private tenant(tenantId: string): TenantState {
    let tenant = this.tenants.get(tenantId);
    if (!tenant) this.tenants.set(tenantId, (tenant = new TenantState()));
    return tenant;
  }
}

function isRegistered(tenant: TenantState, stored: StoredImport): boolean {
  return (
    (stored.hashKey !== undefined && tenant.registeredHashes.has(stored.hashKey)) ||
    (stored.serialKey !== undefined && tenant.registeredSerials.has(stored.serialKey))
  );
}

function nextChangeAt(stored: StoredImport): number {
  const turnsPending = stored.pendingAt !== undefined && stored.record.state.deviceImportStatus === "unknown";
  return turnsPending ? Math.min(stored.pendingAt!, stored.settleAt) : stored.settleAt;
}
