/** Where the command line writes and what it reads, passed in so tests run it in-process. */
export interface CliStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface CliIo {
  stdout: CliStream;
  stderr: CliStream;
  env: Readonly<Record<string, string | undefined>>;
}

export const EXIT = {
  /** Every device imported (or the command did what it was asked). */
  ok: 0,
  /** Some devices failed, or the API refused the request. */
  failed: 1,
  /** Usage, configuration or connection error: nothing was learned about the devices. */
  usage: 2,
} as const;

export const line = (stream: CliStream, text = "") => void stream.write(`${text}\n`);
