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
  /** Intakes of this instance running now (yieldTo): while any runs, one send at a time. */
  private yielding = 0;

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError("limit must be a positive integer");
  }

  private get current(): number {
    return this.yielding > 0 ? 1 : this.limit;
  }

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.inFlight >= this.current) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.inFlight++;
    try {
      return await work();
    } finally {
      // The slot passes straight to the next waiter while the limit allows it; else it is given back.
      if (this.inFlight <= this.current && this.waiting.length > 0) this.waiting.shift()!();
      else this.inFlight--;
    }
  }

  /**
   * Runs `work` (an intake) with this limiter down to one send in flight: the fan-out of a big
   * batch goes on, slowly, and the intake's writes are not queued behind its sends. Restores the
   * limit, and wakes the sends it held back, when the last such work ends.
   */
  async yieldTo<T>(work: () => Promise<T>): Promise<T> {
    this.yielding++;
    try {
      return await work();
    } finally {
      this.yielding--;
      while (this.yielding === 0 && this.inFlight < this.limit && this.waiting.length > 0) {
        this.inFlight++;
        this.waiting.shift()!();
      }
    }
  }

  /** `sender`, each send through this limiter. */
  wrap(sender: DeviceMessageSender): DeviceMessageSender {
    return { send: (message: DeviceMessage, delayMs?: number) => this.run(() => sender.send(message, delayMs)) };
  }
}
