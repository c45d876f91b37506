import type { TableClient } from "@azure/data-tables";
import { BATCH_ROW_KEY } from "../storage/importEntities.js";
import { ifFound, isConflict, isNotFound, isPreconditionFailed } from "../storage/tableErrors.js";
import { readNotification, writeNotification, type NotificationRecord } from "./notificationRecord.js";

/**
 * The batch's webhook event lives in its own row of the batch's partition, beside the header
 * (RowKey "webhook": after the counters and devices, so no range query of theirs meets it). Not
 * on the header itself: the poll chain claims rounds with ETag-conditional header writes, and a
 * delivery attempt recorded there would make a running chain (after a retry) lose its claim.
 */
export const WEBHOOK_ROW_KEY = "webhook";

export interface BatchNotificationHeader {
  batchId: string;
  /** The webhook row's ETag; undefined while the batch has no event yet. */
  etag: string | undefined;
  partnerId?: string;
  callbackUrl?: string;
  notification?: NotificationRecord;
}

interface WebhookEntity {
  partitionKey: string;
  rowKey: string;
  notification: string;
}

export class NotificationStore {
  constructor(private readonly imports: TableClient) {}

  /** The header's partnerId and callbackUrl with the event row; undefined for an unknown batch, or one being erased. */
  async read(batchId: string): Promise<BatchNotificationHeader | undefined> {
    const header = await this.readHeader(batchId);
    if (!header) return undefined;
    // Most batches have no callback: their last poll round costs one point read here, not two.
    const row = header.callbackUrl ? await this.readRow(batchId) : undefined;
    const notification = readNotification(row?.notification);
    return {
      batchId,
      etag: row?.etag,
      ...(typeof header.partnerId === "string" ? { partnerId: header.partnerId } : {}),
      ...(typeof header.callbackUrl === "string" && header.callbackUrl ? { callbackUrl: header.callbackUrl } : {}),
      ...(notification ? { notification } : {}),
    };
  }

  /** The event alone, for the status view. */
  async readEvent(batchId: string): Promise<NotificationRecord | undefined> {
    return readNotification((await this.readRow(batchId))?.notification);
  }

  /**
   * Conditional on what `read` saw (no row, or its ETag); false when it changed meanwhile (or the
   * batch was erased), to read and decide again.
   *
   * Creating the row is the one write that could add a row to a batch being erased: one whose
   * header was read before the erasure began, and whose insert lands after the erasure listed the
   * partition. So the header is read again after the insert: if the erasure has begun by then,
   * this removes its own row; if not, the insert came before the erasure's listing, which then
   * finds the row and deletes it. Either way nothing is left behind.
   */
  async write(header: BatchNotificationHeader, record: NotificationRecord): Promise<boolean> {
    const entity: WebhookEntity = { partitionKey: header.batchId, rowKey: WEBHOOK_ROW_KEY, notification: writeNotification(record) };
    try {
      if (header.etag !== undefined) {
        await this.imports.updateEntity(entity, "Replace", { etag: header.etag });
        return true;
      }
      await this.imports.createEntity(entity);
    } catch (error) {
      // 404: the row went with its batch's erasure.
      if (isPreconditionFailed(error) || isConflict(error) || isNotFound(error)) return false;
      throw error;
    }
    if (await this.readHeader(header.batchId)) return true;
    try {
      await this.imports.deleteEntity(header.batchId, WEBHOOK_ROW_KEY);
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    return false;
  }

  /** The header's webhook columns, or undefined when there is none or its erasure has begun. */
  private async readHeader(batchId: string): Promise<Record<string, unknown> | undefined> {
    const header = await ifFound(() =>
      this.imports.getEntity<Record<string, unknown>>(batchId, BATCH_ROW_KEY, {
        queryOptions: { select: ["partnerId", "callbackUrl", "erasingAt"] },
      }),
    );
    return header && !header.erasingAt ? header : undefined;
  }

  private async readRow(batchId: string): Promise<(WebhookEntity & { etag: string }) | undefined> {
    return ifFound(() => this.imports.getEntity<WebhookEntity>(batchId, WEBHOOK_ROW_KEY));
  }
}
