import type { ImportStore } from "../storage/importStore.js";

/**
 * When the tenant refuses the app as a whole (no consent, no such tenant, Intune's 403), the
 * batch's devices that have not reached Graph fail at once with the same reason instead of each
 * meeting it on its own attempt, paced through the tenant's write budget, for up to an hour.
 * Their queued messages then find them final and are dropped. A retrying device whose last create
 * may have gone through (inDoubt) is left to its next attempt, which looks for its record first.
 * Moves are ETag-conditional, so a device a worker claims at the same moment stays the worker's.
 * The first refusals of a batch arrive together on many workers; one of them (the claim on the
 * header) does this, instead of each listing and racing over the same thousands of rows.
 */
export async function failWaitingDevices(
  store: Pick<ImportStore, "devicesInState" | "moveDevices" | "claimTenantRefusal">,
  batchId: string,
  failure: { errorCode: string; errorMessage: string },
  at: string,
): Promise<number> {
  if (!(await store.claimTenantRefusal(batchId, at))) return 0;
  let failed = 0;
  for (const state of ["queued", "retrying"] as const) {
    const devices = (await store.devicesInState(batchId, state)).filter((device) => !device.inDoubt);
    const moves = devices.map((device) => ({
      device,
      changes: {
        state: "failed" as const,
        errorCode: failure.errorCode,
        errorName: undefined,
        errorMessage: failure.errorMessage,
        claimedBy: undefined,
        nextAttemptAt: undefined,
        updatedAt: at,
      },
    }));
    failed += (await store.moveDevices(moves)).length;
  }
  return failed;
}
