import type { DeviceMessage } from "./deviceMessage.js";
import type { DeviceMessageSender } from "./deviceQueue.js";

/**
 * At most `limit` sends in flight at once, across every caller that shares it: an instance's
 * fan-out ranges (a batch of 10,000 is ten of them, run side by side) together keep
 * FANOUT_CONCURRENCY sends in flight, so they leave the storage account room for intake's own
 * writes and the workers' claims instead of queueing hundreds of requests in front of them.
 */
export class SendLimiter {
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError("limit must be a positive integer");
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.inFlight >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.inFlight++;
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter; only when none waits is it given back.
      if (next) next();
      else this.inFlight--;
    }
  }

  /** `sender`, each send through this limiter. */
  wrap(sender: DeviceMessageSender): DeviceMessageSender {
    return { send: (message: DeviceMessage, delayMs?: number) => this.run(() => sender.send(message, delayMs)) };
  }
}
