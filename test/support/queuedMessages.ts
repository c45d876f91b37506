import type { StorageClients } from "../../src/storage/clients.js";
import { decodeFanOutMessage } from "../../src/intake/fanOutMessage.js";
import { DEVICE_QUEUE, FANOUT_QUEUE, FOLLOWER_QUEUE } from "../../src/storage/names.js";

/**
 * Messages (visible or not) for devices and batches: the device queue and the chunks' followers'
 * queue, plus the device messages that fan-out messages still waiting in their queue stand for
 * (one per device of their ranges): what a batch's intake enqueued, whether or not its fan-out ran.
 */
export async function queuedMessages(storage: Pick<StorageClients, "queueNamed">): Promise<number> {
  let count = 0;
  for (const name of [DEVICE_QUEUE, FOLLOWER_QUEUE])
    count += (await storage.queueNamed(name).getProperties()).approximateMessagesCount ?? 0;
  return count + (await fanOutDevices(storage));
}

/** Devices of the fan-out messages visible in their queue (at most 32 messages: tests' batches are small). */
export async function fanOutDevices(storage: Pick<StorageClients, "queueNamed">): Promise<number> {
  const queue = storage.queueNamed(FANOUT_QUEUE);
  const waiting = (await queue.getProperties()).approximateMessagesCount ?? 0;
  if (waiting === 0) return 0;
  const { peekedMessageItems } = await queue.peekMessages({ numberOfMessages: 32 });
  if (peekedMessageItems.length < waiting)
    throw new Error(`${waiting} fan-out messages, ${peekedMessageItems.length} visible: more than a test can count`);
  return peekedMessageItems.reduce((sum, item) => {
    const message = decodeFanOutMessage(item.messageText);
    return sum + message.to - message.from;
  }, 0);
}
