import { fanOutBatch } from "../../src/intake/fanOutBatch.js";
import type { FanOutMessage, FanOutSender } from "../../src/intake/fanOutMessage.js";
import type { IntakeDeps } from "../../src/intake/submitBatch.js";
import type { FanOutProgress } from "../../src/intake/fanOutProgress.js";

/**
 * Intake deps whose fan-out runs inline (each fan-out message expanded at once, as its queue
 * trigger would): for tests of what comes after intake, which expect every device's message sent
 * when submitBatch returns. Tests of the fan-out itself use the queue.
 */
export function withInlineFanOut<D extends Omit<IntakeDeps, "fanOut" | "fanOutRangeDevices">>(
  deps: D,
  progress: FanOutProgress,
  fanOutRangeDevices = 1_000,
): D & Pick<IntakeDeps, "fanOut" | "fanOutRangeDevices"> {
  const fanOut: FanOutSender = {
    send: async (message: FanOutMessage) => {
      await fanOutBatch(
        {
          store: deps.store,
          progress,
          journal: deps.journal,
          queue: deps.queue,
          pacing: deps.pacing,
          enqueueConcurrency: deps.enqueueConcurrency,
          followerDelayMs: deps.chunking?.followerDelayMs ?? 60_000,
          log: deps.log,
          ...(deps.now ? { now: deps.now } : {}),
        },
        message,
      );
    },
  };
  return { ...deps, fanOut, fanOutRangeDevices };
}
