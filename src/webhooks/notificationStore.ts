import type { TableClient } from "@azure/data-tables";
import { BATCH_ROW_KEY } from "../storage/importEntities.js";
import { isNotFound, isPreconditionFailed } from "../storage/importStore.js";
import { readNotification, writeNotification, type NotificationRecord } from "./notificationRecord.js";

export interface BatchNotificationHeader {
  batchId: string;
  etag: string;
  partnerId?: string;
  callbackUrl?: string;
  notification?: NotificationRecord;
}

/** The webhook columns of the batch header (`imports`, RowKey "batch"); every write is ETag-conditional. */
export class NotificationStore {
  constructor(private readonly imports: TableClient) {}

  async read(batchId: string): Promise<BatchNotificationHeader | undefined> {
    try {
      const row = await this.imports.getEntity<Record<string, unknown>>(batchId, BATCH_ROW_KEY, {
        queryOptions: { select: ["partnerId", "callbackUrl", "notification"] },
      });
      const notification = readNotification(row.notification);
      return {
        batchId,
        etag: String(row.etag),
        ...(typeof row.partnerId === "string" ? { partnerId: row.partnerId } : {}),
        ...(typeof row.callbackUrl === "string" && row.callbackUrl ? { callbackUrl: row.callbackUrl } : {}),
        ...(notification ? { notification } : {}),
      };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** False when the header changed since it was read (the caller reads again and decides again). */
  async write(header: BatchNotificationHeader, record: NotificationRecord): Promise<boolean> {
    try {
      await this.imports.updateEntity(
        { partitionKey: header.batchId, rowKey: BATCH_ROW_KEY, notification: writeNotification(record) },
        "Merge",
        { etag: header.etag },
      );
      return true;
    } catch (error) {
      if (isPreconditionFailed(error)) return false;
      throw error;
    }
  }
}
