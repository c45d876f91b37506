/**
 * The instances' shared clock. Write slots are moments, compared with each instance's clock, so
 * instances whose clocks differ write each other's slots early or late: two writes a second apart
 * on the schedule leave together, and a window then holds more writes than Intune allows. Every
 * instance therefore keeps time by the storage service that holds the schedule: each answer of
 * storage says what the service's clock read while the request was out, and the offset between
 * the two clocks lies inside the bounds every such answer sets.
 */

/** One answer's evidence: while this instance's clock went from `sentAt` to `receivedAt`, the service's clock read somewhere from `serviceFrom` to `serviceTo`. */
export interface ClockReading {
  sentAt: number;
  receivedAt: number;
  serviceFrom: number;
  serviceTo: number;
}

/** The offset (service − local) one reading allows: at least `low`, at most `high`. */
export interface OffsetBounds {
  low: number;
  high: number;
  /** The local time of the reading, so the newest are trusted first. */
  at: number;
}

export function boundsOf(reading: ClockReading): OffsetBounds {
  return { low: reading.serviceFrom - reading.receivedAt, high: reading.serviceTo - reading.sentAt, at: reading.receivedAt };
}

/**
 * The offset that fits the most recent readings: their bounds intersected, newest first, until
 * one disagrees with the newer ones (a clock was set, or drifted since). Of what is left, the
 * offset nearest to none: clocks are usually kept in step (NTP), so this instance's own clock is
 * trusted as far as the evidence allows and corrected only by what the evidence requires; a
 * second-wide `Date` reading then moves a clock that is right by nothing, not by half a second.
 * Undefined without a reading.
 */
export function estimateOffset(bounds: readonly OffsetBounds[]): { offsetMs: number; low: number; high: number } | undefined {
  let low = -Infinity;
  let high = Infinity;
  for (const b of [...bounds].sort((x, y) => y.at - x.at)) {
    const nextLow = Math.max(low, b.low);
    const nextHigh = Math.min(high, b.high);
    if (nextLow > nextHigh) break;
    low = nextLow;
    high = nextHigh;
  }
  if (!Number.isFinite(low) || !Number.isFinite(high)) return undefined;
  return { offsetMs: Math.min(Math.max(0, low), high), low, high };
}
