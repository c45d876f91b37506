import type { BatchEntity, DeviceEntity, ProfileState } from "../storage/importEntities.js";
import type { DeviceState } from "../model/deviceState.js";
import type { ImportStore } from "../storage/importStore.js";

/** A continuation token that reads on by device index (rows and pages together), not the table's own. */
const INDEX_TOKEN = /^idx\.(\d{1,6})$/;

export interface DevicePageQuery {
  state?: DeviceState;
  profileState?: ProfileState;
  pageSize: number;
  /** As this service issued it (decoded from the URL's base64url). */
  continuationToken?: string;
}

/**
 * One page of a batch's devices for a status reader. While the batch's fan-out is still writing
 * its device rows (intakeState not yet accepted), some devices are still in pages
 * (devicePages.ts): they are read with the rows, in device order, as `queued`, and the page's
 * token says where to go on by index. Otherwise (almost always) the table's own paging.
 */
export async function readDevicePage(
  store: Pick<ImportStore, "listDevices" | "listDevicesByIndex">,
  batch: Pick<BatchEntity, "partitionKey" | "intakeState">,
  query: DevicePageQuery,
): Promise<{ devices: DeviceEntity[]; continuationToken?: string }> {
  const byIndex = query.continuationToken?.match(INDEX_TOKEN);
  const filters = { ...(query.state ? { state: query.state } : {}), ...(query.profileState ? { profileState: query.profileState } : {}) };
  if (byIndex || (!query.continuationToken && batch.intakeState !== "accepted")) {
    const page = await store.listDevicesByIndex(batch.partitionKey, {
      ...filters,
      pageSize: query.pageSize,
      from: Number(byIndex?.[1] ?? 0),
    });
    return { devices: page.devices, ...(page.nextIndex !== undefined ? { continuationToken: `idx.${page.nextIndex}` } : {}) };
  }
  return store.listDevices(batch.partitionKey, {
    ...filters,
    pageSize: query.pageSize,
    ...(query.continuationToken ? { continuationToken: query.continuationToken } : {}),
  });
}
