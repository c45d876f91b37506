import { odata, type TableClient } from "@azure/data-tables";
import { generateApiKey, hashApiKey, parseApiKey, type NewApiKey } from "./apiKeys.js";
import type { SecretVault } from "../secrets/secretVault.js";
import { generateWebhookSecret } from "../model/webhookSigning.js";
import { ifFound, isConflict } from "../storage/tableErrors.js";

/**
 * Partners and their credentials, in three small tables:
 *
 *   partners     PartitionKey partnerId, RowKey "partner": tenants, appIds (JSON arrays), createdAt
 *   partnerkeys  PartitionKey key id,    RowKey "key":     partnerId, hash (SHA-256 of the key), createdAt, revokedAt
 *   partnerapps  PartitionKey Entra app id, RowKey "app":  partnerId
 *
 * A request's key or token app id is found with one point read; the inserts into partnerkeys
 * and partnerapps fail if the row exists, so no app id can be claimed by two partners.
 *
 * Webhook signing secrets: with a Key Vault (KEY_VAULT_URL), each is a version of the vault secret
 * `partner-<partnerId>-webhook` and the partner row holds only its reference (`<name>/<version>`);
 * without one (local runs, tests) the row holds the secret itself.
 */
const PARTNER_ROW = "partner";
const KEY_ROW = "key";
const APP_ROW = "app";
/** A partner has at most this many active keys: the current one and the one being rotated out. */
export const MAX_ACTIVE_KEYS = 2;
/** How long a rotated-out webhook secret keeps signing beside the new one. */
export const WEBHOOK_SECRET_OVERLAP_MS = 24 * 3_600_000;

export interface PartnerRecord {
  partnerId: string;
  tenants: string[];
  appIds: string[];
  createdAt: string;
}

export interface PartnerKeyRecord {
  keyId: string;
  partnerId: string;
  hash: string;
  createdAt: string;
  revokedAt?: string;
}

interface PartnerEntity {
  partitionKey: string;
  rowKey: string;
  tenants: string;
  appIds: string;
  createdAt: string;
  /**
   * The partner's webhook signing secret (`whsec_…`, src/model/webhookSigning.ts). Stored as is, not
   * hashed: signing needs the key itself. Shown once, when created or rotated; never in a listing.
   */
  webhookSecret?: string;
  /** Instead of webhookSecret, with a Key Vault: the vault secret version holding it (src/secrets/secretVault.ts). */
  webhookSecretRef?: string;
  /** After a rotation, the previous secret also signs (a second signature) until this time, so receivers can switch without missing an event. */
  previousWebhookSecret?: string;
  previousWebhookSecretRef?: string;
  previousWebhookSecretUntil?: string;
}

/** The vault secret a partner's webhook signing secrets are versions of. */
export function webhookSecretName(partnerId: string): string {
  return `partner-${partnerId}-webhook`;
}

interface KeyEntity {
  partitionKey: string;
  rowKey: string;
  partnerId: string;
  hash: string;
  createdAt: string;
  revokedAt?: string;
}

export interface PartnerTables {
  partners: TableClient;
  partnerKeys: TableClient;
  partnerApps: TableClient;
}

/** Partner ids appear in table keys and URLs: keep them plain. */
export const PARTNER_ID_PATTERN = /^[a-z0-9][a-z0-9-]{1,62}$/;

export class PartnerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PartnerError";
  }
}

export class PartnerStore {
  constructor(
    private readonly tables: PartnerTables,
    private readonly now: () => Date = () => new Date(),
    /** Where webhook signing secrets go; without one they stay in the partners table. */
    private readonly vault?: SecretVault,
  ) {}

  /** The columns that store a new secret: its vault reference, or (no vault) the secret itself. The other column is emptied. */
  private async storeSecret(partnerId: string, secret: string): Promise<Pick<PartnerEntity, "webhookSecret" | "webhookSecretRef">> {
    if (!this.vault) return { webhookSecret: secret, webhookSecretRef: "" };
    return { webhookSecret: "", webhookSecretRef: await this.vault.put(webhookSecretName(partnerId), secret) };
  }

  private async readSecret(
    partnerId: string,
    plain: string | null | undefined,
    reference: string | null | undefined,
  ): Promise<string | undefined> {
    if (reference) {
      if (!this.vault)
        throw new PartnerError(`partner '${partnerId}': its webhook secret is in Key Vault (${reference}), but KEY_VAULT_URL is not set`);
      return this.vault.get(reference);
    }
    return plain || undefined;
  }

  async getPartner(partnerId: string): Promise<PartnerRecord | undefined> {
    const entity = await ifFound(() => this.tables.partners.getEntity<PartnerEntity>(partnerId, PARTNER_ROW));
    return entity ? toPartner(entity) : undefined;
  }

  async listPartners(): Promise<PartnerRecord[]> {
    const found: PartnerRecord[] = [];
    for await (const entity of this.tables.partners.listEntities<PartnerEntity>({
      queryOptions: { filter: odata`RowKey eq ${PARTNER_ROW}` },
    })) {
      found.push(toPartner(entity));
    }
    return found.sort((a, b) => a.partnerId.localeCompare(b.partnerId));
  }

  /** Creates the partner (fails if it exists) with its app ids and a webhook signing secret; keys are added separately. */
  async createPartner(input: {
    partnerId: string;
    tenants: readonly string[];
    appIds?: readonly string[];
  }): Promise<PartnerRecord & { webhookSecret: string }> {
    if (!PARTNER_ID_PATTERN.test(input.partnerId)) {
      throw new PartnerError(
        `partner id '${input.partnerId}' must be 2-63 lower-case letters, digits or '-', starting with a letter or digit`,
      );
    }
    if (input.tenants.length === 0) throw new PartnerError("a partner needs at least one tenant it may import into");
    const record: PartnerRecord = {
      partnerId: input.partnerId,
      tenants: [...new Set(input.tenants.map((t) => t.trim()).filter(Boolean))],
      appIds: [...new Set((input.appIds ?? []).map((a) => a.trim().toLowerCase()).filter(Boolean))],
      createdAt: this.now().toISOString(),
    };
    for (const appId of record.appIds) {
      const owner = await this.partnerForApp(appId);
      if (owner) throw new PartnerError(`app id ${appId} already belongs to partner '${owner}'`);
    }
    const webhookSecret = generateWebhookSecret();
    // A vault version written for a partner id that turns out to exist is never referenced: harmless.
    const stored = await this.storeSecret(record.partnerId, webhookSecret);
    try {
      await this.tables.partners.createEntity<PartnerEntity>({
        partitionKey: record.partnerId,
        rowKey: PARTNER_ROW,
        tenants: JSON.stringify(record.tenants),
        appIds: JSON.stringify(record.appIds),
        createdAt: record.createdAt,
        ...stored,
      });
    } catch (error) {
      if (isConflict(error)) throw new PartnerError(`partner '${record.partnerId}' already exists`);
      throw error;
    }
    for (const appId of record.appIds) {
      try {
        await this.tables.partnerApps.createEntity({ partitionKey: appId, rowKey: APP_ROW, partnerId: record.partnerId });
      } catch (error) {
        if (isConflict(error)) throw new PartnerError(`app id ${appId} already belongs to another partner`);
        throw error;
      }
    }
    return { ...record, webhookSecret };
  }

  /** The secret batch-completion webhooks are signed with; undefined for an unknown partner. */
  async webhookSecretFor(partnerId: string): Promise<string | undefined> {
    return (await this.webhookSecretsFor(partnerId))[0];
  }

  /** Every secret a webhook is signed with now: the current one, and the previous one during its overlap after a rotation. */
  async webhookSecretsFor(partnerId: string): Promise<string[]> {
    const entity = await ifFound(() =>
      this.tables.partners.getEntity<PartnerEntity>(partnerId, PARTNER_ROW, {
        queryOptions: {
          select: ["webhookSecret", "webhookSecretRef", "previousWebhookSecret", "previousWebhookSecretRef", "previousWebhookSecretUntil"],
        },
      }),
    );
    if (!entity) return [];
    const current = await this.readSecret(partnerId, entity.webhookSecret, entity.webhookSecretRef);
    if (!current) return [];
    const overlapping =
      (entity.previousWebhookSecret || entity.previousWebhookSecretRef) &&
      (entity.previousWebhookSecretUntil ?? "") > this.now().toISOString();
    const previous = overlapping
      ? await this.readSecret(partnerId, entity.previousWebhookSecret, entity.previousWebhookSecretRef)
      : undefined;
    return previous ? [current, previous] : [current];
  }

  /**
   * Replaces the partner's webhook signing secret and returns the new one, to be shown once. The
   * previous secret keeps signing too (Standard Webhooks allows several signatures) for
   * `overlapMs`, so the partner's receiver can switch keys without rejecting an event.
   */
  async rotateWebhookSecret(
    partnerId: string,
    overlapMs = WEBHOOK_SECRET_OVERLAP_MS,
  ): Promise<{ webhookSecret: string; previousValidUntil?: string }> {
    const entity = await ifFound(() => this.tables.partners.getEntity<PartnerEntity>(partnerId, PARTNER_ROW));
    if (!entity) throw new PartnerError(`no partner '${partnerId}'`);
    const webhookSecret = generateWebhookSecret();
    const hadSecret = Boolean(entity.webhookSecret || entity.webhookSecretRef);
    const previousValidUntil = hadSecret && overlapMs > 0 ? new Date(this.now().getTime() + overlapMs).toISOString() : undefined;
    // Written before the row: if the row update fails, the new version is simply never referenced.
    const stored = await this.storeSecret(partnerId, webhookSecret);
    await this.tables.partners.updateEntity(
      {
        partitionKey: partnerId,
        rowKey: PARTNER_ROW,
        ...stored,
        // The previous secret moves over as it was stored (a vault reference, or the value from
        // before a vault was configured); an empty value clears it when there is no overlap.
        previousWebhookSecret: previousValidUntil ? (entity.webhookSecret ?? "") : "",
        previousWebhookSecretRef: previousValidUntil ? (entity.webhookSecretRef ?? "") : "",
        previousWebhookSecretUntil: previousValidUntil ?? "",
      },
      "Merge",
    );
    return { webhookSecret, ...(previousValidUntil ? { previousValidUntil } : {}) };
  }

  /**
   * Issues a new key for the partner. With MAX_ACTIVE_KEYS already active, the oldest is revoked
   * so that two stay valid: callers switch to the new key, then the previous one is revoked.
   * Pass `key` only to seed a known development key.
   */
  async issueKey(partnerId: string, key?: string): Promise<NewApiKey & { revokedKeyIds: string[] }> {
    if (!(await this.getPartner(partnerId))) throw new PartnerError(`no partner '${partnerId}'`);
    const issued = key === undefined ? generateApiKey() : knownKey(key);
    const createdAt = this.now().toISOString();
    try {
      await this.tables.partnerKeys.createEntity<KeyEntity>({
        partitionKey: issued.keyId,
        rowKey: KEY_ROW,
        partnerId,
        hash: issued.hash,
        createdAt,
      });
    } catch (error) {
      if (isConflict(error)) throw new PartnerError(`key ${issued.keyId} exists already`);
      throw error;
    }
    // The new key plus the newest others up to MAX_ACTIVE_KEYS stay; older ones are revoked.
    const previous = (await this.listKeys(partnerId))
      .filter((k) => !k.revokedAt && k.keyId !== issued.keyId)
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    const revokedKeyIds: string[] = [];
    for (const old of previous.slice(MAX_ACTIVE_KEYS - 1)) {
      await this.revokeKey(partnerId, old.keyId);
      revokedKeyIds.push(old.keyId);
    }
    return { ...issued, revokedKeyIds };
  }

  async revokeKey(partnerId: string, keyId: string): Promise<void> {
    const key = await this.getKey(keyId);
    if (!key || key.partnerId !== partnerId) throw new PartnerError(`partner '${partnerId}' has no key ${keyId}`);
    if (key.revokedAt) return;
    await this.tables.partnerKeys.updateEntity({ partitionKey: keyId, rowKey: KEY_ROW, revokedAt: this.now().toISOString() }, "Merge");
  }

  async getKey(keyId: string): Promise<PartnerKeyRecord | undefined> {
    const entity = await ifFound(() => this.tables.partnerKeys.getEntity<KeyEntity>(keyId, KEY_ROW));
    return entity ? toKey(entity) : undefined;
  }

  async listKeys(partnerId: string): Promise<PartnerKeyRecord[]> {
    const found: PartnerKeyRecord[] = [];
    for await (const entity of this.tables.partnerKeys.listEntities<KeyEntity>({
      queryOptions: { filter: odata`partnerId eq ${partnerId}` },
    })) {
      found.push(toKey(entity));
    }
    return found.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async partnerForApp(appId: string): Promise<string | undefined> {
    const entity = await ifFound(() => this.tables.partnerApps.getEntity<{ partnerId: string }>(appId.toLowerCase(), APP_ROW));
    return entity?.partnerId;
  }
}

function knownKey(key: string): NewApiKey {
  const parsed = parseApiKey(key);
  if (!parsed) throw new PartnerError("the given key is not shaped like an API key of this service");
  return { ...parsed, hash: hashApiKey(key) };
}

function toPartner(entity: PartnerEntity): PartnerRecord {
  return {
    partnerId: entity.partitionKey,
    tenants: JSON.parse(entity.tenants) as string[],
    appIds: JSON.parse(entity.appIds) as string[],
    createdAt: entity.createdAt,
  };
}

function toKey(entity: KeyEntity): PartnerKeyRecord {
  return {
    keyId: entity.partitionKey,
    partnerId: entity.partnerId,
    hash: entity.hash,
    createdAt: entity.createdAt,
    ...(entity.revokedAt ? { revokedAt: entity.revokedAt } : {}),
  };
}
