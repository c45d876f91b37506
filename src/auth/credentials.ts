import { looksLikeApiKey } from "./apiKeys.js";

/** What a request presents: an API key (in `x-api-key` or as a bearer token), an Entra ID token, or nothing usable. */
export type PresentedCredential =
  { kind: "api-key"; key: string } | { kind: "token"; token: string } | { kind: "none" } | { kind: "malformed" };

/** Pure: reads the credential from the two headers a partner may use. */
export function readCredential(headers: { get(name: string): string | null }): PresentedCredential {
  const authorization = headers.get("authorization")?.trim();
  if (authorization) {
    const bearer = /^Bearer[ ]+(\S+)$/i.exec(authorization);
    if (!bearer) return { kind: "malformed" };
    const value = bearer[1]!;
    return looksLikeApiKey(value) ? { kind: "api-key", key: value } : { kind: "token", token: value };
  }
  const apiKey = headers.get("x-api-key")?.trim();
  if (apiKey) return { kind: "api-key", key: apiKey };
  return { kind: "none" };
}
