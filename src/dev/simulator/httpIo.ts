import type { IncomingMessage, ServerResponse } from "node:http";
import { errorMessage } from "../../model/errorMessage.js";

/** What a handler decides; the server turns it into bytes (or a dropped socket). */
export type Reply =
  { kind: "respond"; status: number; body?: unknown; headers?: Record<string, string>; contentType?: string } | { kind: "drop" };

/** Graph's content type for OData payloads; its error bodies are plain application/json. */
export const ODATA_JSON = "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8";
export const PLAIN_JSON = "application/json";

/** Graph refuses request bodies over 4 MB. */
export const MAX_REQUEST_BYTES = 4 * 1024 * 1024;

export type RequestBody = { kind: "none" } | { kind: "json"; value: unknown } | { kind: "invalid"; message: string } | { kind: "tooLarge" };

/**
 * Reads the whole body. Past the limit the rest is drained and discarded so the connection
 * stays usable for the 413 without holding the bytes.
 */
export async function readBody(req: IncomingMessage): Promise<RequestBody> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= MAX_REQUEST_BYTES) chunks.push(chunk);
  }
  if (size > MAX_REQUEST_BYTES) return { kind: "tooLarge" };
  if (size === 0) return { kind: "none" };
  const text = Buffer.concat(chunks)
    .toString("utf8")
    .replace(/^\uFEFF/, "");
  if (text.trim() === "") return { kind: "none" };
  try {
    return { kind: "json", value: JSON.parse(text) as unknown };
  } catch (e) {
    return { kind: "invalid", message: `The request body is not valid JSON: ${errorMessage(e)}` };
  }
}

export function isJsonContentType(header: string | undefined): boolean {
  return /^application\/json\s*(;|$)/i.test(header ?? "");
}

export function writeReply(res: ServerResponse, reply: Extract<Reply, { kind: "respond" }>, commonHeaders: Record<string, string>): void {
  if (res.destroyed || res.writableEnded) return; // the client or stop() closed the socket meanwhile
  const headers: Record<string, string | number> = { ...commonHeaders, ...reply.headers };
  let payload: Buffer | undefined;
  if (reply.body !== undefined) {
    payload = Buffer.from(JSON.stringify(reply.body), "utf8");
    headers["Content-Type"] = reply.contentType ?? ODATA_JSON;
    headers["Content-Length"] = payload.length;
  } else if (reply.status !== 204) {
    // A 204 must carry no Content-Length (RFC 9110 §8.6).
    headers["Content-Length"] = 0;
  }
  res.writeHead(reply.status, headers);
  res.end(payload);
}

export function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}
