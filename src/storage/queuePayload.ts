import type { z } from "zod";

/**
 * A queue message as either host hands it over, read against its schema: the Functions host
 * gives the decoded JSON as an object (or JSON text), the development host the raw base64 text.
 * `malformed` makes the caller's own error, so each message kind keeps its error type.
 */
export function decodeQueuePayload<T>(payload: unknown, schema: z.ZodType<T>, malformed: (reason: string) => Error): T {
  let value = payload;
  if (typeof value === "string") {
    const text = value.trimStart().startsWith("{") ? value : Buffer.from(value, "base64").toString("utf8");
    try {
      value = JSON.parse(text);
    } catch {
      throw malformed("not JSON");
    }
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw malformed(parsed.error.issues.map((i) => i.path.join(".") + ": " + i.message).join("; "));
  return parsed.data;
}
