import type { ImportedDeviceRecord } from "./records.js";

/**
 * A record as an answer shows it: a copy, so neither responses nor callers of records() can
 * alter the stored state. Unless `echoClientValues`, importId and productKey are the record's
 * own id and hardwareIdentifier is empty, as in a real 201 (MSEndpointMgr/Intune issue #71):
 * clients must identify a record by its id and serial number, never by an echo of what they
 * sent. The store keeps the client's values, which settlement and duplicate detection read.
 */
export function answered(record: ImportedDeviceRecord, echoClientValues: boolean): ImportedDeviceRecord {
  const copy = { ...record, state: { ...record.state } };
  if (echoClientValues) return copy;
  return { ...copy, importId: record.id, productKey: record.id, hardwareIdentifier: "" };
}
