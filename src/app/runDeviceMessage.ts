import { deregisterDevice } from "../deregistration/deregisterDevice.js";
import { notifyIfFinal } from "../status/notifyBatch.js";
import { decodeDeviceMessage } from "../storage/deviceMessage.js";
import { deleteRecords, scheduleDeletes } from "../worker/deleteRecords.js";
import { pollBatch, type PollDeps } from "../worker/pollBatch.js";
import { processDeviceMessage } from "../worker/processDeviceMessage.js";
import { requestSync, syncTenant } from "../worker/syncTenant.js";
import { updateExisting } from "../worker/updateExisting.js";
import { deleteDeps, deregisterDeps, pollDeps, syncDeps, updateExistingDeps, webhookNotifyDeps, workerDeps } from "./serviceDeps.js";
import type { Services } from "./services.js";
import type { QueueDelivery } from "../storage/queueText.js";

/** One message of the device queue (names.ts, DEVICE_QUEUE), handed to the step of its kind. */
export async function runDeviceMessage(s: Services, payload: unknown, delivery: QueueDelivery): Promise<void> {
  const message = decodeDeviceMessage(payload);
  switch (message.kind) {
    case "submit":
      await processDeviceMessage(workerDeps(s), message, delivery);
      break;
    case "pollBatch":
      await pollBatch({ ...pollDeps(s), ...whenFinal(s, message.batchId) }, message, delivery.id);
      break;
    case "syncTenant":
      await syncTenant(syncDeps(s), message);
      break;
    case "deleteRecords":
      await deleteRecords(deleteDeps(s), message);
      break;
    case "updateExisting":
      await updateExisting(updateExistingDeps(s), message);
      break;
    case "deregister":
      await deregisterDevice(deregisterDeps(s), message);
      break;
  }
}

/**
 * Every path to a final status (imported, failed at create or later, canceled, poisoned) ends the
 * batch's poll chain, so the poll round is where its webhook event is recorded.
 */
function whenFinal(s: Services, batchId: string): Pick<PollDeps, "onBatchFinished" | "onImportsFinal"> {
  return {
    onBatchFinished: async (tenantId: string) => {
      if (s.config.sync.afterImport) await requestSync(syncDeps(s), tenantId);
      await notifyIfFinal({ store: s.store, ...webhookNotifyDeps(s) }, batchId);
    },
    ...(s.config.deleteImportedRecords
      ? { onImportsFinal: (tenantId: string, ids: string[]) => scheduleDeletes(deleteDeps(s), batchId, tenantId, ids) }
      : {}),
  };
}
