import cliProgress from "cli-progress";
import type { Batch } from "../types.js";
import { line, type CliStream } from "./io.js";

/** Reports a batch's progress as it is polled: a live bar on a terminal, plain lines elsewhere (CI, pipes). */
export interface ProgressReporter {
  update(batch: Batch): void;
  stop(): void;
}

const finalOf = (batch: Batch) => batch.counts.imported + batch.counts.failed + batch.counts.canceled;
const running = (batch: Batch) => batch.counts.queued + batch.counts.retrying + batch.counts.submitted;

/** Devices per second since the first view this process saw, and the seconds left at that rate. */
function pace(startedAt: number, startFinal: number, batch: Batch, now: number) {
  const seconds = (now - startedAt) / 1000;
  const rate = seconds > 0 ? (finalOf(batch) - startFinal) / seconds : 0;
  const left = rate > 0 ? Math.ceil((batch.deviceCount - finalOf(batch)) / rate) : undefined;
  return { rate, left };
}

const counts = (batch: Batch) =>
  `imported ${batch.counts.imported}, failed ${batch.counts.failed}, canceled ${batch.counts.canceled}, ` +
  `queued ${batch.counts.queued}, retrying ${batch.counts.retrying}, submitted ${batch.counts.submitted}`;

function plainReporter(stream: CliStream, now: () => number): ProgressReporter {
  let last = "";
  let start: { at: number; final: number } | undefined;
  return {
    update(batch) {
      start ??= { at: now(), final: finalOf(batch) };
      const text = `${batch.id}: ${finalOf(batch)}/${batch.deviceCount} final (${counts(batch)})`;
      // One line per change, not per poll: a CI log stays readable for a long batch.
      if (text === last) return;
      last = text;
      const { rate, left } = pace(start.at, start.final, batch, now());
      line(
        stream,
        `${text}${rate > 0 ? `, ${rate.toFixed(1)} devices/s` : ""}${left !== undefined && batch.status === "running" ? `, about ${left} s left` : ""}`,
      );
    },
    stop() {},
  };
}

function barReporter(stream: CliStream, now: () => number): ProgressReporter {
  const bar = new cliProgress.SingleBar(
    {
      stream: stream as unknown as NodeJS.WritableStream,
      format:
        "{bar} {value}/{total} final | imported {imported} failed {failed} canceled {canceled} | in progress {running} | {rate}/s | ETA {eta_formatted}",
      hideCursor: true,
      etaBuffer: 20,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  let start: { at: number; final: number } | undefined;
  return {
    update(batch) {
      const payload = {
        ...batch.counts,
        running: running(batch),
        rate: start ? pace(start.at, start.final, batch, now()).rate.toFixed(1) : "0.0",
      };
      if (!start) {
        start = { at: now(), final: finalOf(batch) };
        bar.start(batch.deviceCount, finalOf(batch), payload);
      } else bar.update(finalOf(batch), payload);
    },
    stop() {
      if (start) bar.stop();
    },
  };
}

export function progressReporter(stream: CliStream, now: () => number = Date.now): ProgressReporter {
  return stream.isTTY ? barReporter(stream, now) : plainReporter(stream, now);
}
