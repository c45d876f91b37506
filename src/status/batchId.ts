import { z } from "zod";

export const batchIdSchema = z.uuid().describe("The batch id POST /api/imports answered.");

/** Ids that are not UUIDs name no batch; they are answered 404 without a storage read. */
export function isBatchId(id: string): boolean {
  return batchIdSchema.safeParse(id).success;
}
