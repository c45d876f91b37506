import type { StorageClients } from "../../src/storage/clients.js";
import { DEVICE_QUEUE, FOLLOWER_QUEUE } from "../../src/storage/names.js";

/** Messages (visible or not) for devices and batches: the device queue and the chunks' followers' queue. */
export async function queuedMessages(storage: Pick<StorageClients, "queueNamed">): Promise<number> {
  let count = 0;
  for (const name of [DEVICE_QUEUE, FOLLOWER_QUEUE]) count += (await storage.queueNamed(name).getProperties()).approximateMessagesCount ?? 0;
  return count;
}
