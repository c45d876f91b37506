/** How queue message text carries its payload: host.json extensions.queues.messageEncoding. */
export type QueueMessageEncoding = "base64" | "none";

/** A queue message's identity as the host delivered it: both hosts hand it to every queue function. */
export interface QueueDelivery {
  id: string;
  dequeueCount: number;
}

/** What the Functions host hands a queue function: base64 decoded, and parsed if it is JSON. */
export function decodePayload(text: string, encoding: QueueMessageEncoding): unknown {
  const decoded = encoding === "base64" ? Buffer.from(text, "base64").toString("utf8") : text;
  try {
    return JSON.parse(decoded);
  } catch {
    return decoded;
  }
}
