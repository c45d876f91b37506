/**
 * The only fields a log line may carry. Hashes, product keys, UPNs and tokens have no field
 * here, so they cannot be logged by accident through this interface.
 */
export interface LogFields {
  batchId?: string;
  rowKey?: string;
  tenantId?: string;
  partnerId?: string;
  state?: string;
  attempt?: number;
  status?: number;
  errorCode?: string;
  delayMs?: number;
  /** How long a device's invocation waited in-process for its write slot. */
  slotWaitMs?: number;
  /** How long an invocation held back sending a message so it becomes visible early enough before its slot. */
  sendHoldMs?: number;
  /** How long after its write slot a device's create left. */
  lateMs?: number;
  /** How far a stall (a write found late after an outage) moved the tenant's schedule: 0 when another instance had recorded it. */
  shiftAddedMs?: number;
  deviceCount?: number;
  messageId?: string;
  /** The Graph call behind the line: Graph's request-id and our client-request-id, for a support case. */
  graphRequestId?: string;
  graphClientRequestId?: string;
  /** How the device's record was found: created by this attempt, or found after a lost answer (ours, or matched by serial number). */
  recordFoundBy?: string;
  reason?: string;
  /** The registered Autopilot device an onExisting update changed, or a followed device's. */
  autopilotDeviceId?: string;
}
