import { ApiError } from "../errors.js";
import type { AutopilotImportClient, Submitted } from "../client.js";
import { followBatch } from "./follow.js";
import { pushIdempotencyKey, readPushInput } from "./inputFile.js";
import { EXIT, line, type CliIo } from "./io.js";

export interface PushOptions {
  tenant?: string;
  groupTag?: string;
  wait?: boolean;
  out?: string;
}

const IN_FLIGHT = "https://autopilot-import.dev/problems/idempotency-key-in-flight";
const IN_FLIGHT_ATTEMPTS = 10;

/** Sends, and while the first request with this key is still being accepted (409), asks again for its answer. */
async function submit(send: () => Promise<Submitted>): Promise<Submitted> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (error) {
      if (!(error instanceof ApiError && error.problem.type === IN_FLIGHT) || attempt >= IN_FLIGHT_ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  }
}

export async function push(client: AutopilotImportClient, file: string, options: PushOptions, io: CliIo): Promise<number> {
  const input = await readPushInput(file);
  if (input.skippedImported) line(io.stderr, `Skipping ${input.skippedImported} rows already imported.`);
  if (input.skippedImported && input.devices.length === 0) {
    line(io.stdout, "Nothing to push: every row of this results file is imported.");
    return EXIT.ok;
  }
  const idempotencyKey = pushIdempotencyKey(input, options);
  const fields = {
    idempotencyKey,
    ...(options.tenant ? { tenantId: options.tenant } : {}),
    ...(options.groupTag ? { groupTag: options.groupTag } : {}),
  };
  const submitted = await submit(() =>
    client.createImportFromBytes(input.body, input.kind === "csv" ? "text/csv" : "application/json", fields),
  );
  const { batch } = submitted;
  line(
    io.stdout,
    submitted.replayed
      ? `This file was already pushed with these options: batch ${batch.id} (${batch.deviceCount} devices). No second batch was made.`
      : `Pushed ${batch.deviceCount} devices: batch ${batch.id}.`,
  );
  if (!options.wait && !options.out) {
    line(io.stdout, `Follow it with: autopilot-import status ${batch.id} --wait`);
    return EXIT.ok;
  }
  return followBatch(client, batch.id, io, { ...(options.out ? { out: options.out } : {}), pushed: input.devices });
}
