import { randomUUID } from "node:crypto";
import { READ_PERMISSION, READ_WRITE_PERMISSION } from "./auth.js";

/**
 * How the Intune service behind /deviceManagement words its errors, as opposed to Graph's
 * gateway (401, unknown segments, 405, throttling), whose messages are plain text.
 * Source: the facts sheet's observed section (Intune's 403 code and wording; `message` often a
 * JSON document in a string whose readable text is its `Message`).
 */
export interface IntuneTrace {
  /** Intune repeats the request's correlation id as its Activity ID. */
  activityId: string;
  /** The URL the client called. */
  url: string;
}

export const INTUNE_FORBIDDEN_CODE = "Forbidden";
export const INTUNE_FORBIDDEN_TEXT = `Application is not authorized to perform this operation. Application must have one of the following scopes: ${READ_WRITE_PERMISSION}, ${READ_PERMISSION}`;

/** Intune's own trace suffix; its Operation ID is the service's, unrelated to Graph's request-id. */
function traceSuffix(trace: IntuneTrace): string {
  return ` - Operation ID (for customer support): ${randomUUID()} - Activity ID: ${trace.activityId} - Url: ${trace.url}`;
}

/**
 * `text` as Intune sends it. Wrapped: the JSON document Intune serialises into `message`
 * (key order and the empty fields as seen). Plain: the text alone, or with the trace suffix
 * when `traced` (Intune's 403 carries it even unwrapped).
 */
export function intuneMessage(text: string, trace: IntuneTrace, options: { wrap: boolean; traced?: boolean }): string {
  if (!options.wrap) return options.traced ? text + traceSuffix(trace) : text;
  return JSON.stringify({
    _version: 3,
    Message: `${text}${traceSuffix(trace)} - CustomApiErrorPhrase: `,
    CustomApiErrorPhrase: "",
    RetryAfter: null,
    ErrorSourceService: "",
    HttpHeaders: "{}",
  });
}
