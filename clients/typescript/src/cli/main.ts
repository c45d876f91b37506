import { Command, CommanderError, Option } from "commander";
import { AutopilotImportClient, DEFAULT_BASE_URL } from "../client.js";
import { ApiError } from "../errors.js";
import type { DeviceState } from "../types.js";
import { cancel, devices, erase, retry, status } from "./batchCommands.js";
import { EXIT, line, type CliIo } from "./io.js";
import { push } from "./push.js";

const DEVICE_STATES = [
  "queued",
  "submitting",
  "retrying",
  "submitted",
  "imported",
  "failed",
  "canceled",
] as const satisfies readonly DeviceState[];

/** The origin the client's /api paths go on; a URL given with /api at its end works too. */
const baseUrlOf = (env: CliIo["env"]) => (env.AUTOPILOT_IMPORT_URL || DEFAULT_BASE_URL).replace(/\/+$/, "").replace(/\/api$/, "");

class UsageError extends Error {}

function clientFor(io: CliIo): AutopilotImportClient {
  const apiKey = io.env.AUTOPILOT_IMPORT_API_KEY;
  if (!apiKey) throw new UsageError("set AUTOPILOT_IMPORT_API_KEY to a partner API key (npm run partners -- add … prints one)");
  // Fewer, shorter retries than the library's default: a person is waiting at the prompt.
  return new AutopilotImportClient({ baseUrl: baseUrlOf(io.env), apiKey, retry: { maxRetries: 3, baseDelayMs: 500, maxDelayMs: 30_000 } });
}

function program(io: CliIo, done: (code: number) => void): Command {
  const run = (action: (client: AutopilotImportClient) => Promise<number>) => async () => done(await action(clientFor(io)));
  const cli = new Command("autopilot-import")
    .description(
      "Import Windows Autopilot devices into Intune through autopilot-import, and follow them to the end.\n" +
        `Configured by AUTOPILOT_IMPORT_URL (default ${DEFAULT_BASE_URL}) and AUTOPILOT_IMPORT_API_KEY.\n` +
        "Exit codes: 0 every device imported (or done), 1 some failed or the API refused, 2 usage, configuration or connection error.",
    )
    .configureOutput({ writeOut: (s) => void io.stdout.write(s), writeErr: (s) => void io.stderr.write(s) })
    .exitOverride()
    .showHelpAfterError();
  cli
    .command("push")
    .description("submit a CSV (Get-WindowsAutopilotInfo's) or JSON file; pushing the same file again finds the first batch")
    .argument("<file>", "file.csv or file.json")
    .option("--tenant <tenant>", "tenant GUID or domain (default: the service's DEFAULT_TENANT_ID)")
    .option("--group-tag <tag>", "group tag for devices that name none")
    .option("--wait", "follow the batch to its end with progress, then list failures by reason")
    .option("--out <results.csv>", "with --wait (implied): write every device with its outcome; fix failed rows and push it again")
    .action((file: string, options: { tenant?: string; groupTag?: string; wait?: boolean; out?: string }) =>
      run((client) => push(client, file, options, io))(),
    );
  cli
    .command("status")
    .description("a batch's status and counts")
    .argument("<batchId>")
    .option("--wait", "follow it to its end with progress")
    .action((id: string, options: { wait?: boolean }) => run((client) => status(client, id, options, io))());
  cli
    .command("devices")
    .description("a batch's devices and their outcomes")
    .argument("<batchId>")
    .addOption(new Option("--status <state>", "only devices in this state").choices(DEVICE_STATES))
    .option("--out <file.csv>", "write them as CSV instead")
    .action((id: string, options: { status?: DeviceState; out?: string }) => run((client) => devices(client, id, options, io))());
  cli
    .command("retry")
    .description("retry a finished batch's retryable failures")
    .argument("<batchId>")
    .action((id: string) => run((client) => retry(client, id, io))());
  cli
    .command("cancel")
    .description("cancel a running batch")
    .argument("<batchId>")
    .action((id: string) => run((client) => cancel(client, id, io))());
  cli
    .command("erase")
    .description("erase a finished batch from the service, every record of it (cancel a running one first)")
    .argument("<batchId>")
    .option("--yes", "erase it; without this, only say what would be erased")
    .action((id: string, options: { yes?: boolean }) => run((client) => erase(client, id, options, io))());
  return cli;
}

function printProblem(io: CliIo, error: ApiError) {
  const { problem } = error;
  line(io.stderr, `error: ${problem.title} (${error.status})${problem.detail ? `: ${problem.detail}` : ""}`);
  for (const p of (problem.errors ?? []).slice(0, 20)) {
    const where = [p.device === undefined ? "" : `device ${p.device}`, p.line === undefined ? "" : `line ${p.line}`]
      .filter(Boolean)
      .join(", ");
    line(io.stderr, `  ${where ? `${where}: ` : ""}${p.field}: ${p.message}`);
  }
  if ((problem.errors?.length ?? 0) > 20) line(io.stderr, `  … and ${problem.errors!.length - 20} more`);
}

/** Runs one command line; answers the exit code. Never prints the API key. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  let code: number = EXIT.ok;
  try {
    await program(io, (c) => (code = c)).parseAsync([...argv], { from: "user" });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (error instanceof ApiError) {
      printProblem(io, error);
      return error.status === 401 ? EXIT.usage : EXIT.failed;
    }
    if (error instanceof UsageError) {
      line(io.stderr, `error: ${error.message}`);
      return EXIT.usage;
    }
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    if (error instanceof TypeError && cause) {
      line(
        io.stderr,
        `error: cannot reach ${baseUrlOf(io.env)} (${cause.code ?? cause.message}); is the service running, and AUTOPILOT_IMPORT_URL right?`,
      );
      return EXIT.usage;
    }
    line(io.stderr, `error: ${(error as Error).message}`);
    return EXIT.usage;
  }
}
