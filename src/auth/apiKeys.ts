import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Partner API keys: `apimp_<key id>_<secret>`. The prefix makes a leaked key recognisable to
 * secret scanners and people; the key id (8 random bytes, hex) names the stored row so a key is
 * found with one point read; the secret is 32 random bytes (256 bits), base64url.
 *
 * Only SHA-256 of the whole key is stored. A slow password hash (bcrypt, scrypt, Argon2) exists
 * to make guessing low-entropy human passwords expensive; a 256-bit random secret cannot be
 * guessed at any hashing speed, so a fast hash loses nothing and keeps every request cheap.
 */
export const API_KEY_PREFIX = "apimp_";
const KEY_PATTERN = /^apimp_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export interface ParsedApiKey {
  keyId: string;
  /** The whole key as presented, for hashing. */
  key: string;
}

export interface NewApiKey extends ParsedApiKey {
  hash: string;
}

export function generateApiKey(): NewApiKey {
  const keyId = randomBytes(8).toString("hex");
  const key = `${API_KEY_PREFIX}${keyId}_${randomBytes(32).toString("base64url")}`;
  return { keyId, key, hash: hashApiKey(key) };
}

/** Undefined for anything that is not shaped like one of our keys (no storage read is spent on it). */
export function parseApiKey(presented: string): ParsedApiKey | undefined {
  const match = KEY_PATTERN.exec(presented);
  return match ? { keyId: match[1]!, key: presented } : undefined;
}

export function looksLikeApiKey(presented: string): boolean {
  return presented.startsWith(API_KEY_PREFIX);
}

export function hashApiKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

/** Constant-time comparison of a presented key with a stored hash, so timing reveals nothing about the hash. */
export function apiKeyMatches(key: string, storedHash: string): boolean {
  const presented = Buffer.from(hashApiKey(key), "hex");
  const stored = Buffer.from(storedHash, "hex");
  return stored.length === presented.length && timingSafeEqual(presented, stored);
}
