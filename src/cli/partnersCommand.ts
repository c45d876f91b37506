import { parseArgs } from "node:util";
import { PartnerError, type PartnerStore } from "../auth/partnerStore.js";
import { errorMessage } from "../model/errorMessage.js";

/**
 * `npm run partners -- <command>`: partners and their API keys. The logic, apart from the
 * process: it takes the store and a writer, and returns the exit code. A new key is printed once,
 * here, and never again: only its hash is stored.
 */
export const PARTNERS_USAGE = `usage: npm run partners -- <command>

  add <partnerId> --tenants <id>[,<id>…] [--app-id <Entra app id>]…
        register a partner, the tenants it may import into, the Entra ID apps that act for it;
        prints its first API key and its webhook signing secret
  rotate <partnerId>
        issue a new key; the previous one stays valid (two at most) until revoked
  revoke <partnerId> <keyId>
        revoke a key at once
  rotate-webhook-secret <partnerId>
        replace the secret its batch-completion webhooks are signed with; the old one also signs
        for 24 h, so the receiver can switch without missing an event; with KEY_VAULT_URL
        the new secret is a new version of its vault secret
  list
        partners, their tenants, apps and keys (ids and dates only)`;

export interface Output {
  out(line: string): void;
  err(line: string): void;
}

export async function runPartnersCommand(argv: readonly string[], store: PartnerStore, io: Output): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        tenants: { type: "string", multiple: true },
        "app-id": { type: "string", multiple: true },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    io.err(errorMessage(error));
    io.err(PARTNERS_USAGE);
    return 2;
  }
  const [command, ...rest] = parsed.positionals;
  if (parsed.values.help || !command) {
    io.out(PARTNERS_USAGE);
    return command || parsed.values.help ? 0 : 2;
  }
  try {
    switch (command) {
      case "add": {
        const [partnerId] = rest;
        const tenants = (parsed.values.tenants ?? [])
          .flatMap((t) => t.split(","))
          .map((t) => t.trim())
          .filter(Boolean);
        if (!partnerId || tenants.length === 0) return usage(io, "add needs a partner id and --tenants");
        const partner = await store.createPartner({ partnerId, tenants, appIds: parsed.values["app-id"] ?? [] });
        const key = await store.issueKey(partnerId);
        io.out(
          `partner ${partner.partnerId}: tenants ${partner.tenants.join(", ")}${partner.appIds.length ? `; Entra apps ${partner.appIds.join(", ")}` : ""}`,
        );
        printKey(io, key.keyId, key.key);
        printWebhookSecret(io, partner.webhookSecret);
        return 0;
      }
      case "rotate-webhook-secret": {
        const [partnerId] = rest;
        if (!partnerId) return usage(io, "rotate-webhook-secret needs a partner id");
        const rotated = await store.rotateWebhookSecret(partnerId);
        printWebhookSecret(io, rotated.webhookSecret);
        if (rotated.previousValidUntil) io.out(`the previous secret also signs until ${rotated.previousValidUntil}`);
        return 0;
      }
      case "rotate": {
        const [partnerId] = rest;
        if (!partnerId) return usage(io, "rotate needs a partner id");
        const key = await store.issueKey(partnerId);
        printKey(io, key.keyId, key.key);
        const active = (await store.listKeys(partnerId)).filter((k) => !k.revokedAt && k.keyId !== key.keyId);
        if (active.length)
          io.out(`still valid until revoked: ${active.map((k) => k.keyId).join(", ")}  (npm run partners -- revoke ${partnerId} <keyId>)`);
        if (key.revokedKeyIds.length) io.out(`revoked (a partner has two keys at most): ${key.revokedKeyIds.join(", ")}`);
        return 0;
      }
      case "revoke": {
        const [partnerId, keyId] = rest;
        if (!partnerId || !keyId) return usage(io, "revoke needs a partner id and a key id");
        await store.revokeKey(partnerId, keyId);
        io.out(`key ${keyId} of ${partnerId} revoked`);
        return 0;
      }
      case "list": {
        const partners = await store.listPartners();
        if (partners.length === 0) io.out("no partners");
        for (const partner of partners) {
          io.out(
            `${partner.partnerId}  tenants: ${partner.tenants.join(", ")}${partner.appIds.length ? `  apps: ${partner.appIds.join(", ")}` : ""}`,
          );
          for (const key of await store.listKeys(partner.partnerId)) {
            io.out(`  key ${key.keyId}  created ${key.createdAt}  ${key.revokedAt ? `revoked ${key.revokedAt}` : "active"}`);
          }
        }
        return 0;
      }
      default:
        return usage(io, `unknown command '${command}'`);
    }
  } catch (error) {
    if (error instanceof PartnerError) {
      io.err(error.message);
      return 1;
    }
    throw error;
  }
}

function printKey(io: Output, keyId: string, key: string): void {
  io.out(`new API key (id ${keyId}), shown this once, store it now:`);
  io.out(`  ${key}`);
}

function printWebhookSecret(io: Output, secret: string): void {
  io.out("webhook signing secret (Standard Webhooks, verifies webhook-signature), shown this once, store it now:");
  io.out(`  ${secret}`);
}

function usage(io: Output, message: string): number {
  io.err(message);
  io.err(PARTNERS_USAGE);
  return 2;
}
