/**
 * How the simulator decides that two imports name the same device: the hardware hash by its
 * bytes (so padding or line-wrapping differences in base64 do not hide a duplicate) and the
 * serial number case- and space-insensitively, as OEM serials are printed either way.
 */

// Strict RFC 4648 base64 with padding: what Graph's Edm.Binary deserializer accepts.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function isBase64(value: string): boolean {
  return BASE64.test(value);
}

/** The hash's bytes, re-encoded; undefined when there is no hash or it decodes to nothing. */
export function hashKey(hardwareIdentifier: string | null | undefined): string | undefined {
  if (!hardwareIdentifier) return undefined;
  const bytes = Buffer.from(hardwareIdentifier, "base64");
  return bytes.length === 0 ? undefined : bytes.toString("base64");
}

export function serialKey(serialNumber: string | null | undefined): string | undefined {
  const key = serialNumber?.trim().toUpperCase();
  return key ? key : undefined;
}
