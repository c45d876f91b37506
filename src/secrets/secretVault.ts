import type { TokenCredential } from "@azure/identity";
import { SecretClient, type SecretClientOptions } from "@azure/keyvault-secrets";

/**
 * Where partner secrets live when a Key Vault is configured (KEY_VAULT_URL). A stored secret is
 * known by a reference, `<secret name>/<version>`: Key Vault keeps every value it was given as an
 * immutable version, so a reference always means the same value, which makes rotation (a new
 * version, the previous one still readable during its overlap) and caching simple.
 */
export interface SecretVault {
  /** Stores a new version of the secret `name`; returns its reference. */
  put(name: string, value: string): Promise<string>;
  /** The value of a reference put() returned. */
  get(reference: string): Promise<string>;
}

/** Key Vault secret names: 1-127 letters, digits and '-'. */
const SECRET_NAME = /^[0-9A-Za-z-]{1,127}$/;
const REFERENCE = /^([0-9A-Za-z-]{1,127})\/([0-9A-Za-z]{1,64})$/;

export function parseSecretReference(reference: string): { name: string; version: string } {
  const match = REFERENCE.exec(reference);
  if (!match) throw new Error(`not a Key Vault secret reference (<name>/<version>): '${reference.slice(0, 200)}'`);
  return { name: match[1]!, version: match[2]! };
}

/** The vault through @azure/keyvault-secrets, as the given identity (the app's managed identity, or the operator's for the CLI). */
export class KeyVaultSecrets implements SecretVault {
  private readonly client: SecretClient;

  constructor(vaultUrl: string, credential: TokenCredential, options: SecretClientOptions = {}) {
    this.client = new SecretClient(vaultUrl, credential, options);
  }

  async put(name: string, value: string): Promise<string> {
    if (!SECRET_NAME.test(name)) throw new Error(`'${name}' is not a valid Key Vault secret name`);
    const stored = await this.client.setSecret(name, value, { contentType: "text/plain" });
    if (!stored.properties.version) throw new Error(`Key Vault returned no version for secret '${name}'`);
    return `${name}/${stored.properties.version}`;
  }

  async get(reference: string): Promise<string> {
    const { name, version } = parseSecretReference(reference);
    const secret = await this.client.getSecret(name, { version });
    // Never the value in a message: only which secret.
    if (secret.value === undefined) throw new Error(`Key Vault secret ${reference} has no value`);
    return secret.value;
  }
}

/** How long a secret read from the vault is reused. A reference names one immutable version, so this only bounds how long a value sits in memory and how often the vault is asked. */
export const SECRET_CACHE_MS = 5 * 60_000;

/**
 * Reads through a brief in-memory cache, so signing a burst of webhooks costs one vault read per
 * secret rather than one per delivery (Key Vault throttles per vault). Concurrent reads of one
 * reference share the request; a failed read is not cached.
 */
export class CachedSecretVault implements SecretVault {
  private readonly cache = new Map<string, { value: Promise<string>; expires: number }>();

  constructor(
    private readonly inner: SecretVault,
    private readonly ttlMs = SECRET_CACHE_MS,
    private readonly now: () => number = Date.now,
  ) {}

  put(name: string, value: string): Promise<string> {
    return this.inner.put(name, value);
  }

  get(reference: string): Promise<string> {
    const now = this.now();
    const hit = this.cache.get(reference);
    if (hit && hit.expires > now) return hit.value;
    for (const [key, entry] of this.cache) if (entry.expires <= now) this.cache.delete(key);
    const value = this.inner.get(reference);
    this.cache.set(reference, { value, expires: now + this.ttlMs });
    value.catch(() => {
      if (this.cache.get(reference)?.value === value) this.cache.delete(reference);
    });
    return value;
  }
}
