import { isImportRunning, type ImportedDeviceIdentity } from "../graph/importedDevice.js";

/**
 * What the next attempt does after one whose create may have gone through unseen (its answer
 * was lost, or its host died mid-create): take a record found in Graph as this device's, create
 * anew, look again later, or say it cannot tell. Graph's answers do not reliably echo what the
 * client sent (real 201s carry the record's own id as importId: MSEndpointMgr/Intune #71), so a
 * lost create is looked for by serial number among the tenant's imported records, and the rule
 * for what counts as ours is, in order:
 *
 * 1. a record whose importId is this device's key is ours (Graph as documented echoes it);
 * 2. no record with the serial: nothing was created, once the lists have had time to show a new
 *    record (`listGraceMs` after the doubtful attempt; lists lag creates); until then, look again;
 * 3. exactly one, and its import still running: ours (another tool's import of the same device
 *    would have had to start within the same minutes);
 * 4. exactly one, already finished: it tells what happened to this device in Intune, but may be
 *    another tool's, so it is "matched", not ours (never deleted, shown on the device);
 * 5. several: nobody can tell which, and creating again would make it worse: say so.
 */
export type InDoubtDecision =
  | { kind: "ours"; record: ImportedDeviceIdentity }
  | { kind: "matched"; record: ImportedDeviceIdentity }
  | { kind: "create" }
  | { kind: "wait"; untilMs: number }
  | { kind: "unclear"; recordIds: string[]; reason: "several-records" | "list-incomplete" };

export interface InDoubtFacts {
  /** The tenant's records with the device's serial number (trimmed, case-insensitive: sameSerialNumber). */
  records: readonly ImportedDeviceIdentity[];
  /** The walk read the whole collection: absence means something. */
  complete: boolean;
  /** The importId the create carried (the device's key). */
  importId: string;
  now: number;
  /** When the attempt that may have created the record ran. */
  doubtSince: number;
  listGraceMs: number;
}

export function decideInDoubt(facts: InDoubtFacts): InDoubtDecision {
  const echoed = facts.records.find((record) => record.importId === facts.importId);
  if (echoed) return { kind: "ours", record: echoed };
  const graceEnds = facts.doubtSince + facts.listGraceMs;
  if (facts.records.length === 0) {
    if (facts.now < graceEnds) return { kind: "wait", untilMs: graceEnds };
    return facts.complete ? { kind: "create" } : { kind: "unclear", recordIds: [], reason: "list-incomplete" };
  }
  if (facts.records.length > 1) return { kind: "unclear", recordIds: facts.records.map((r) => r.id), reason: "several-records" };
  const only = facts.records[0]!;
  return isImportRunning(only.state?.deviceImportStatus) ? { kind: "ours", record: only } : { kind: "matched", record: only };
}

export function unclearMessage(decision: Extract<InDoubtDecision, { kind: "unclear" }>): string {
  if (decision.reason === "list-incomplete") {
    return "An earlier create of this device may have reached Intune, and the tenant's list of imported devices could not be read to the end to check; nothing was created again. Look the serial number up in Intune (Devices > Windows > Enrollment > Devices) before importing it again.";
  }
  return `An earlier create of this device may have reached Intune, and the tenant holds ${decision.recordIds.length} imported records with this serial number (${decision.recordIds.join(", ")}), none of them provably ours; nothing was created again. Check them in Intune before importing the device again.`;
}

/**
 * Which record is a device's after an import action that answered without records (204, an
 * empty body, or a 200 that left the device out). Unlike a lost create, the call is known to
 * have gone through, so Graph made exactly one record for the device; what is unknown is only
 * which of the tenant's records with its serial number it is:
 *
 * 1. one whose importId is the device's key (Graph as documented echoes it);
 * 2. exactly one still importing: ours (another tool's import would have had to start within the same minutes);
 * 3. none importing, within `listGraceMs` of the action: ours may not be listed yet, look again;
 * 4. after that, exactly one: ours (the action made one, and there is one);
 * 5. none, in a complete walk: the record is gone; in an incomplete walk: look again;
 * 6. otherwise several: nobody can tell which.
 */
export type ActionRecordDecision =
  { kind: "ours"; record: ImportedDeviceIdentity } | { kind: "wait" } | { kind: "gone" } | { kind: "unclear"; recordIds: string[] };

export function decideActionRecord(facts: Omit<InDoubtFacts, "doubtSince"> & { sentAt: number }): ActionRecordDecision {
  const echoed = facts.records.find((record) => record.importId === facts.importId);
  if (echoed) return { kind: "ours", record: echoed };
  const running = facts.records.filter((record) => isImportRunning(record.state?.deviceImportStatus));
  if (running.length === 1) return { kind: "ours", record: running[0]! };
  if (running.length > 1) return { kind: "unclear", recordIds: running.map((r) => r.id) };
  if (facts.now < facts.sentAt + facts.listGraceMs) return { kind: "wait" };
  if (facts.records.length === 1) return { kind: "ours", record: facts.records[0]! };
  if (facts.records.length === 0) return facts.complete ? { kind: "gone" } : { kind: "wait" };
  return { kind: "unclear", recordIds: facts.records.map((r) => r.id) };
}
