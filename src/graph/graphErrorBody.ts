/**
 * What a Graph error body says, readable. Graph wraps errors as `{ error: { code, message } }`;
 * Intune's `message` is often itself a JSON document in a string,
 * `{"_version":3,"Message":"… - Operation ID (for customer support): …","CustomApiErrorPhrase":"",…}`
 * (autopilot-graph-facts.md, "What real Intune has been seen to do"), whose `Message` is the
 * text a person can act on. The operation and activity ids after it are support detail: the
 * call's request-id and client-request-id are kept beside the outcome for that.
 */
export function parseGraphError(text: string): { code?: string; message?: string } {
  let parsed: { error?: { code?: unknown; message?: unknown } };
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    return {};
  }
  const code = typeof parsed?.error?.code === "string" && parsed.error.code ? parsed.error.code : undefined;
  const raw = typeof parsed?.error?.message === "string" ? parsed.error.message : undefined;
  const message = raw === undefined ? undefined : readableMessage(raw);
  return { ...(code ? { code } : {}), ...(message ? { message } : {}) };
}

const SUPPORT_DETAIL = / - (Operation ID|Activity ID|Url)( \(for customer support\))?: .*$/s;

export function readableMessage(message: string): string {
  const inner = innerMessage(message);
  return (inner ?? message).replace(SUPPORT_DETAIL, "").trim() || message.trim();
}

function innerMessage(message: string): string | undefined {
  if (!message.trimStart().startsWith("{")) return undefined;
  try {
    const wrapped = JSON.parse(message) as { Message?: unknown };
    return typeof wrapped?.Message === "string" ? wrapped.Message : undefined;
  } catch {
    return undefined;
  }
}
