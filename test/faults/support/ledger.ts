import type { CreateEntry } from "../../../src/dev/simulator/index.js";
import { deviceRowKey } from "../../../src/storage/importEntities.js";
import { isFinal, type DeviceState } from "../../../src/model/deviceState.js";

/** A batch the API answered 202 for: from then on every one of its devices must reach a final state. */
export interface AcceptedBatch {
  batchId: string;
  deviceCount: number;
}

/** The columns of a device row this accounting needs, as read from the imports table. */
export interface DeviceRow {
  rowKey: string;
  state: string;
  errorCode?: string;
  /** Transient failures counted towards RETRY_MAX_ATTEMPTS. */
  failures?: number;
}

export interface Ledger {
  accepted: number;
  /** Devices in a final state (imported, failed, canceled). */
  final: number;
  /** Accepted devices without a final state, or `imported` without a create in Graph's own record. */
  lost: number;
  /** Devices Graph holds more than one create for (creates with the device's importId). */
  duplicated: number;
  /** Creates for a batch that was never accepted (work that ran after the caller was told it was not taken). */
  phantom: number;
  /** Which devices are lost or duplicated, for a failing test's message. */
  lostKeys: string[];
  duplicatedKeys: string[];
}

/**
 * "Nothing lost, nothing created twice", from two independent records: the tables' outcomes and
 * the simulator's own record of every create it carried out. Graph's importId of a create is the
 * pipeline's device key `{batchId}/{rowKey}`, so creates are matched to devices through it.
 */
export function account(
  accepted: readonly AcceptedBatch[],
  rows: ReadonlyMap<string, readonly DeviceRow[]>,
  creates: readonly CreateEntry[],
): Ledger {
  const createsByKey = new Map<string, number>();
  for (const create of creates) {
    const key = create.importId ?? `(no importId) ${create.tenantId}/${create.serialNumber}`;
    createsByKey.set(key, (createsByKey.get(key) ?? 0) + 1);
  }
  const acceptedIds = new Set(accepted.map((b) => b.batchId));
  const ledger: Ledger = { accepted: 0, final: 0, lost: 0, duplicated: 0, phantom: 0, lostKeys: [], duplicatedKeys: [] };
  for (const batch of accepted) {
    const byRowKey = new Map((rows.get(batch.batchId) ?? []).map((r) => [r.rowKey, r]));
    for (let index = 0; index < batch.deviceCount; index++) {
      const key = `${batch.batchId}/${deviceRowKey(index)}`;
      const row = byRowKey.get(deviceRowKey(index));
      ledger.accepted++;
      const final = row !== undefined && isFinal(row.state as DeviceState);
      if (final) ledger.final++;
      if (!final || (row.state === "imported" && !createsByKey.has(key))) {
        ledger.lost++;
        ledger.lostKeys.push(`${key} (${row?.state ?? "no row"})`);
      }
    }
  }
  for (const [key, count] of createsByKey) {
    if (count > 1) {
      ledger.duplicated++;
      ledger.duplicatedKeys.push(`${key} ×${count}`);
    }
    if (!acceptedIds.has(key.split("/")[0]!)) ledger.phantom += count;
  }
  return ledger;
}
