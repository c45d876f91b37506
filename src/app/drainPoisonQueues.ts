import { drainQueue, type DrainOptions } from "../storage/drainQueue.js";
import { FANOUT_POISON_QUEUE, FOLLOWER_POISON_QUEUE, WEBHOOK_POISON_QUEUE } from "../storage/names.js";
import { failPoisonedDelivery } from "../webhooks/poisonedDelivery.js";
import { processPoisonMessage } from "../worker/processPoisonMessage.js";
import { poisonDeps } from "./serviceDeps.js";
import type { Services } from "./services.js";

/** One run over every poison queue, each message to what settles it. */
export async function drainPoisonQueues(s: Services, options: DrainOptions): Promise<void> {
  const poison = poisonDeps(s);
  await drainQueue(
    s.storage.poisonQueue,
    (payload, message) => processPoisonMessage(poison, payload, message.dequeueCount),
    s.log,
    options,
  );
  await drainQueue(
    s.storage.queueNamed(FOLLOWER_POISON_QUEUE),
    (payload, message) => processPoisonMessage(poison, payload, message.dequeueCount),
    s.log,
    options,
  );
  // A fan-out that kept failing: its range's progress row stays open, and the intake sweeper
  // sends it again once the row has not moved for its grace period. Nothing to do but say so.
  await drainQueue(
    s.storage.queueNamed(FANOUT_POISON_QUEUE),
    async (payload) =>
      s.log.warn("fan-out message poisoned; the intake sweeper resumes its range", {
        batchId: (payload as { batchId?: string } | null)?.batchId ?? "?",
      }),
    s.log,
    options,
  );
  await drainQueue(
    s.storage.queueNamed(WEBHOOK_POISON_QUEUE),
    (payload) => failPoisonedDelivery({ notifications: s.webhooks.notifications, log: s.log }, payload),
    s.log,
    options,
  );
}
