import type { AutopilotImportClient } from "../client.js";
import type { Batch, DeviceState } from "../types.js";
import { collect, exitCodeOf, followBatch } from "./follow.js";
import { EXIT, line, type CliIo } from "./io.js";
import { writeResultsCsv } from "./resultsCsv.js";

function printBatch(io: CliIo, batch: Batch) {
  const c = batch.counts;
  line(io.stdout, `Batch ${batch.id} ${batch.status}: ${c.imported + c.failed + c.canceled}/${batch.deviceCount} final`);
  line(
    io.stdout,
    `  imported ${c.imported}, failed ${c.failed}, canceled ${c.canceled}, queued ${c.queued}, retrying ${c.retrying}, submitted ${c.submitted}`,
  );
}

/** Without --wait: where the batch is now (exit 0 while it runs); with --wait, followed to its end. */
export async function status(client: AutopilotImportClient, id: string, options: { wait?: boolean }, io: CliIo): Promise<number> {
  if (options.wait) return followBatch(client, id, io);
  const { batch } = await client.getImport(id);
  printBatch(io, batch);
  return batch.status === "running" ? EXIT.ok : exitCodeOf(batch);
}

export async function devices(
  client: AutopilotImportClient,
  id: string,
  options: { status?: DeviceState; out?: string },
  io: CliIo,
): Promise<number> {
  const all = await collect(client.devices(id, options.status ? { status: options.status } : {}));
  if (options.out) {
    await writeResultsCsv(options.out, all);
    line(io.stdout, `Wrote ${all.length} devices to ${options.out}.`);
    return EXIT.ok;
  }
  for (const d of all) {
    const reason = d.error ? `  ${[d.error.code, d.error.name].filter(Boolean).join(" ")}: ${d.error.message ?? ""}` : "";
    line(io.stdout, `${d.index}\t${d.serialNumber}\t${d.state}${reason}`);
  }
  return EXIT.ok;
}

export async function retry(client: AutopilotImportClient, id: string, io: CliIo): Promise<number> {
  const result = await client.retryImport(id);
  line(io.stdout, `Retrying ${result.retriedDevices} devices of batch ${id}. Follow it with: autopilot-import status ${id} --wait`);
  return EXIT.ok;
}

export async function cancel(client: AutopilotImportClient, id: string, io: CliIo): Promise<number> {
  const result = await client.cancelImport(id);
  line(io.stdout, `Canceled ${result.canceledDevices} devices of batch ${id}; devices already in Graph are followed to their end.`);
  return EXIT.ok;
}

/** Erases a finished batch; without --yes it only says what it would do (exit 2), since it cannot be undone. */
export async function erase(client: AutopilotImportClient, id: string, options: { yes?: boolean }, io: CliIo): Promise<number> {
  if (!options.yes) {
    line(
      io.stderr,
      `This erases batch ${id} from the service for good: its devices' hashes, product keys, users and outcomes (the devices stay in Intune).`,
    );
    line(io.stderr, `Run again with --yes to erase it: autopilot-import erase ${id} --yes`);
    return EXIT.usage;
  }
  await client.eraseImport(id);
  line(io.stdout, `Erased batch ${id}.`);
  return EXIT.ok;
}
