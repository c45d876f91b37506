import type { Logger } from "../telemetry/logging.js";
import type { DeviceMessageSender } from "../storage/deviceQueue.js";
import type { ImportStore } from "../storage/importStore.js";
import type { IntakeJournal } from "../intake/intakeJournal.js";
import type { TenantPacing } from "../storage/tenantPacing.js";

/** What retry and cancel need: the store, and for a retry the same pacing and queue intake uses. */
export interface BatchActionDeps {
  store: ImportStore;
  journal: IntakeJournal;
  queue: DeviceMessageSender;
  pacing: Pick<TenantPacing, "reserve">;
  enqueueConcurrency: number;
  firstPollDelayMs: number;
  retryAfterSeconds: number;
  log: Logger;
  now?: () => Date;
}
