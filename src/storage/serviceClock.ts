import { boundsOf, estimateOffset, type ClockReading, type OffsetBounds } from "../model/clockOffset.js";

/** Readings older than this are forgotten: a clock drifts a few milliseconds an hour, and is sometimes set. */
const READING_LIFETIME_MS = 10 * 60_000;
/** Enough readings for the bounds to close to a request's round trip; more add nothing. */
const KEPT_READINGS = 64;

/**
 * This instance's view of the storage service's clock (model/clockOffset.ts): local time plus an
 * offset estimated from the answers of the table service, which every instance talks to. Slots,
 * waits and lateness are all reckoned in it, so instances whose own clocks differ by seconds
 * still write each slot at the same moment.
 *
 * Two kinds of evidence. A table write answers with the entity's new ETag, which in Azure Table
 * storage and Azurite alike is `W/"datetime'<the write's server time, 100 ns>'"` (the entity's
 * `Timestamp`, server-maintained): a reading as narrow as the round trip. Every answer carries an
 * HTTP `Date` header (RFC 9110, whole seconds): a reading a second wide, used only while no write
 * has been seen. The ETag's format is not a documented contract, so an ETag of any other form is
 * simply not a reading.
 */
export class ServiceClock {
  private readonly precise: OffsetBounds[] = [];
  private readonly coarse: OffsetBounds[] = [];
  private offset = 0;

  /** `shared: false` (PACING_CLOCK=local): the instance's own clock is trusted as it is. */
  constructor(
    private readonly local: () => number = Date.now,
    readonly shared = true,
  ) {}

  /** This instance's own time, in which `observe` takes its request's times. */
  readonly localNow = (): number => this.local();

  /** The service's time now, as well as this instance can tell (epoch ms). */
  readonly now = (): number => this.local() + this.offset;

  readonly nowDate = (): Date => new Date(this.now());

  /** Service time minus this instance's time, as last estimated. */
  get offsetMs(): number {
    return this.offset;
  }

  /** One answer of the table service: its request went out at `sentAt` and the answer came at `receivedAt` (local). */
  observe(sentAt: number, receivedAt: number, answer: { method: string; status: number; date?: string; etag?: string }): void {
    if (!this.shared) return;
    const written = isWrite(answer.method) && answer.status >= 200 && answer.status < 300 ? etagTime(answer.etag) : undefined;
    if (written !== undefined) keep(this.precise, boundsOf({ sentAt, receivedAt, serviceFrom: written, serviceTo: written }), receivedAt);
    const dated = dateHeaderReading(sentAt, receivedAt, answer.date);
    if (dated) keep(this.coarse, boundsOf(dated), receivedAt);
    const estimate = estimateOffset(this.precise.length > 0 ? this.precise : this.coarse);
    if (estimate) this.offset = estimate.offsetMs;
  }
}

function keep(readings: OffsetBounds[], bounds: OffsetBounds, now: number): void {
  readings.push(bounds);
  while (readings.length > KEPT_READINGS || (readings.length > 0 && now - readings[0]!.at > READING_LIFETIME_MS)) readings.shift();
}

function isWrite(method: string): boolean {
  return ["PUT", "POST", "PATCH", "MERGE"].includes(method.toUpperCase());
}

/** The server time in a table entity's ETag, `W/"datetime'2026-12-07T03%3A04%3A13.0286532Z'"`; undefined for any other form. */
export function etagTime(etag: string | undefined): number | undefined {
  const match = etag ? /^W\/"datetime'([^']+)'"$/.exec(etag) : null;
  if (!match) return undefined;
  let text: string;
  try {
    text = decodeURIComponent(match[1]!);
  } catch {
    return undefined;
  }
  // Seven digits of fraction: Date.parse takes three.
  const trimmed = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?Z$/.exec(text);
  if (!trimmed) return undefined;
  const at = Date.parse(`${trimmed[1]}${(trimmed[2] ?? "").slice(0, 4)}Z`);
  return Number.isNaN(at) ? undefined : at;
}

/** An HTTP `Date` header: the service's clock read within that whole second while the request was out. */
export function dateHeaderReading(sentAt: number, receivedAt: number, date: string | undefined): ClockReading | undefined {
  const at = date ? Date.parse(date) : NaN;
  if (Number.isNaN(at)) return undefined;
  return { sentAt, receivedAt, serviceFrom: at, serviceTo: at + 999 };
}
