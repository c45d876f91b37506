/**
 * Predicates behind the text rules of deviceSchema.ts. None of them ever returns or logs the value
 * it checks: hashes, product keys and UPNs are secrets or personal data.
 */
import { TENANT_DOMAIN_MAX_LENGTH, UPN_LOCAL_PART_MAX_LENGTH } from "./limits.js";

// C0 and C1 control characters, DEL, and the Unicode line/paragraph separators.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

export function hasControlCharacters(value: string): boolean {
  return CONTROL_CHARACTERS.test(value);
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOMAIN_LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
// At least two labels, the last alphabetic (contoso.onmicrosoft.com, contoso.com).
const DOMAIN_NAME = new RegExp(`^(?:${DOMAIN_LABEL}\\.)+[a-z]{2,63}$`, "i");

export function isGuid(value: string): boolean {
  return GUID.test(value);
}

export function isDomainName(value: string): boolean {
  return value.length <= TENANT_DOMAIN_MAX_LENGTH && DOMAIN_NAME.test(value);
}

/** An Entra tenant: its GUID, or a domain name such as contoso.onmicrosoft.com. */
export function isTenantId(value: string): boolean {
  return isGuid(value) || isDomainName(value);
}

/**
 * Shaped like a user principal name: local@domain.tld, no whitespace, one '@', a local part of
 * 1-64 characters without leading, trailing or doubled dots, and a domain name after it.
 * (Length overall is checked by the schema.)
 */
export function isUserPrincipalName(value: string): boolean {
  const at = value.indexOf("@");
  if (at <= 0 || at !== value.lastIndexOf("@")) return false;
  const local = value.slice(0, at);
  const domain = value.slice(at + 1);
  if (local.length > UPN_LOCAL_PART_MAX_LENGTH || /\s/.test(local)) return false;
  if (local.startsWith(".") || local.endsWith(".") || local.includes("..")) return false;
  return isDomainName(domain);
}
