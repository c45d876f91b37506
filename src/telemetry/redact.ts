/**
 * The last line of defence for log text. Log fields have no place for hashes, product keys,
 * UPNs or tokens (src/telemetry/logging.ts), but free text (an error's message, a Graph error, a URL in a
 * network error) can still carry one. Every string a log record holds passes through here.
 * Over-redacting a log line costs little; leaking a secret into telemetry cannot be undone.
 */
const RULES: readonly [RegExp, string | ((match: string, ...groups: string[]) => string)][] = [
  // "Bearer <token>" in a header echoed by an error, whatever the token looks like.
  [/\bBearer\s+[^\s"',;]+/gi, "Bearer [redacted]"],
  // An API key header and its value, in header or query form.
  [
    /\b(x-api-key|api[-_]?key|x-functions-key|ocp-apim-subscription-key)(["']?\s*[:=]\s*["']?)[^\s"'&,;]+/gi,
    (_m, name: string, sep: string) => `${name}${sep}[redacted]`,
  ],
  // Credentials in a URL's user-info part.
  [/(\b[a-z][a-z0-9+.-]*:\/\/)[^\s/@:]+:[^\s/@]+@/gi, "$1[redacted]@"],
  // A URL's query string, whole: webhook and SAS URLs carry their secrets there.
  [/(\bhttps?:\/\/[^\s?#"'<>]+)\?[^\s#"'<>]+/gi, "$1?[redacted]"],
  // Secrets in query-like text outside a full URL: storage SAS signatures, OAuth codes and tokens, client secrets.
  [/([?&](?:sig|token|access_token|refresh_token|client_secret|client_assertion|password)=)[^&\s"']+/gi, "$1[redacted]"],
  // JSON Web Tokens (header.payload.signature, base64url).
  [/\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, "[redacted-jwt]"],
  // Partner API keys (apimp_<id>_<secret>) and similar prefixed keys (apk_…).
  [/\bap[a-z]{0,4}_[A-Za-z0-9_-]{12,}/g, "[redacted-key]"],
  // Windows product keys: five groups of five.
  [/\b[A-Z0-9]{5}(?:-[A-Z0-9]{5}){4}\b/gi, "[redacted-product-key]"],
  // E-mail addresses and user principal names.
  [/[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g, "[redacted-upn]"],
  // Long base64/base64url/hex runs: hardware hashes, key hashes, secrets of any kind.
  [/[A-Za-z0-9+/_-]{64,}={0,2}/g, "[redacted-blob]"],
];

export function redactSecrets(text: string): string {
  let out = text;
  for (const [pattern, replacement] of RULES) out = out.replace(pattern, replacement as string);
  return out;
}
