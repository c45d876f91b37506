import {
  ALREADY_ASSIGNED,
  ASSIGNED_TO_OTHER_TENANT,
  DEVICE_DUPLICATED,
  INVALID_HARDWARE_HASH,
  MISSING_SERIAL_NUMBER,
  documentedImportErrorName,
} from "./importErrors.js";

/**
 * The rules that turn an import from "unknown" into "complete" or "error", as pure functions
 * of facts the store gathers. Kept apart from the store so each rule and its precedence are
 * tested directly.
 */
export interface SettlementFacts {
  /** The hash is present, reads (layout, checksum) and names a serial number and manufacturer (hashReading.ts). */
  hashReadable: boolean;
  /** Set when an operator called rejectHash for this hash. */
  rejectedCode?: number;
  hasSerialNumber: boolean;
  /** An earlier import of the same hash in the same tenant was still pending when this one was created. */
  duplicatesPendingImport: boolean;
  registeredInSameTenant: boolean;
  registeredInOtherTenant: boolean;
}

export type SimulatedSettlement = { status: "complete" } | { status: "error"; code: number; name: string };

/**
 * Precedence, first match wins: a hash the service cannot read says nothing about the device,
 * so hash problems come first; then the missing serial; then the in-flight duplicate (one of
 * the pair is processed, the other is dropped whatever the registry says); then the registry,
 * own tenant before others because an own-tenant match is the more actionable answer.
 */
export function decideSimulatedSettlement(f: SettlementFacts): SimulatedSettlement {
  if (f.rejectedCode !== undefined) return failure(f.rejectedCode);
  if (!f.hashReadable) return failure(INVALID_HARDWARE_HASH);
  if (!f.hasSerialNumber) return failure(MISSING_SERIAL_NUMBER);
  if (f.duplicatesPendingImport) return { status: "error", ...DEVICE_DUPLICATED };
  if (f.registeredInSameTenant) return failure(ALREADY_ASSIGNED);
  if (f.registeredInOtherTenant) return failure(ASSIGNED_TO_OTHER_TENANT);
  return { status: "complete" };
}

function failure(code: number): SimulatedSettlement {
  return { status: "error", code, name: documentedImportErrorName(code) };
}

export interface Timed {
  createdAt: number;
  /** Strictly increasing per create: breaks ties between creates in the same millisecond. */
  seq: number;
}

/** Creation order, which is the order imports settle in, so outcomes never depend on who reads first. */
export function bySettleOrder(a: Timed, b: Timed): number {
  return a.createdAt - b.createdAt || a.seq - b.seq;
}

/** Whether `earlier` had not yet settled when `later` was created, i.e. both were pending together. */
export function pendingTogether(earlier: Timed & { settleAt: number }, later: Timed): boolean {
  return bySettleOrder(earlier, later) < 0 && earlier.settleAt > later.createdAt;
}
