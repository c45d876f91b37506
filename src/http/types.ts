/**
 * The HTTP shapes the app's handlers see, independent of which host runs them: the Azure
 * Functions host's HttpRequest and the development host's node:http request are both adapted
 * to these, so a handler is written once.
 */
export interface AppRequest {
  method: string;
  url: URL;
  headers: { get(name: string): string | null };
  params: Record<string, string>;
  /** Reads the body, refusing (with "too-large") as soon as it passes `limitBytes`. */
  readBody(limitBytes: number): Promise<Buffer | "too-large">;
}

export interface AppResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** A body sent piece by piece as it is produced (a whole batch as CSV), instead of `body`. */
  stream?: AsyncIterable<string>;
}

/** Reads a web ReadableStream (what both hosts offer) into a Buffer, stopping past the limit. */
export async function readLimited(stream: AsyncIterable<Uint8Array> | null | undefined, limitBytes: number): Promise<Buffer | "too-large"> {
  if (!stream) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.byteLength;
    if (size > limitBytes) return "too-large";
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
