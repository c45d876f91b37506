import { randomUUID } from "node:crypto";
import { BATCH_ROW_KEY, deviceRowKey, type BatchEntity, type DeviceEntity } from "../../src/storage/importEntities.js";
import type { ImportStore } from "../../src/storage/importStore.js";

/** A batch of `deviceCount` queued devices written straight to storage, for store tests; its id. */
export async function writeTestBatch(store: ImportStore, deviceCount: number): Promise<string> {
  const batchId = randomUUID();
  const createdAt = new Date().toISOString();
  const batch: BatchEntity = {
    partitionKey: batchId,
    rowKey: BATCH_ROW_KEY,
    partnerId: "partner-test",
    tenantId: "aaaaaaaa-0000-4000-8000-00000000000a",
    deviceCount,
    source: "json",
    intakeState: "accepted",
    createdAt,
  };
  const devices: DeviceEntity[] = Array.from({ length: deviceCount }, (_, index) => ({
    partitionKey: batchId,
    rowKey: deviceRowKey(index),
    index,
    serialNumber: `S-${index}`,
    hardwareIdentifier: "AAAA",
    tenantId: batch.tenantId,
    state: "queued",
    attempts: 0,
    createdAt,
    updatedAt: createdAt,
  }));
  await store.writeBatch(batch, 4, devices);
  return batchId;
}
