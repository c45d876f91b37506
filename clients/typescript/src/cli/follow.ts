import type { AutopilotImportClient } from "../client.js";
import type { Batch, Device } from "../types.js";
import { EXIT, line, type CliIo } from "./io.js";
import type { InputDevice } from "./inputFile.js";
import { progressReporter } from "./progress.js";
import { writeResultsCsv } from "./resultsCsv.js";
import { printSummary } from "./summary.js";

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of iterable) all.push(item);
  return all;
}

/** 0 when every device imported, 1 otherwise: what a script chaining this command needs to know. */
export const exitCodeOf = (batch: Batch) => (batch.status === "succeeded" ? EXIT.ok : EXIT.failed);

/**
 * Follows a batch to its end with progress, then prints its failures by reason and, with `out`,
 * writes every device with its outcome.
 */
export async function followBatch(
  client: AutopilotImportClient,
  id: string,
  io: CliIo,
  options: { out?: string; pushed?: readonly InputDevice[] } = {},
): Promise<number> {
  const reporter = progressReporter(io.stderr);
  let batch: Batch;
  try {
    batch = await client.waitForImport(id, { onUpdate: (b) => reporter.update(b) });
  } finally {
    reporter.stop();
  }
  await report(client, batch, io, options);
  return exitCodeOf(batch);
}

export async function report(
  client: AutopilotImportClient,
  batch: Batch,
  io: CliIo,
  options: { out?: string; pushed?: readonly InputDevice[] },
) {
  const devices: Device[] = options.out
    ? await collect(client.devices(batch.id))
    : batch.counts.failed
      ? await collect(client.devices(batch.id, { status: "failed" }))
      : [];
  printSummary(
    io.stdout,
    batch,
    devices.filter((d) => d.state === "failed"),
  );
  if (options.out) {
    await writeResultsCsv(options.out, devices, options.pushed);
    line(io.stdout, `Wrote ${devices.length} devices with their outcomes to ${options.out}.`);
  }
}
