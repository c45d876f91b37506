import { DefaultAzureCredential, ManagedIdentityCredential } from "@azure/identity";
import type { AppConfig } from "../config/config.js";
import { CachedSecretVault, KeyVaultSecrets, type SecretVault } from "./secretVault.js";

/**
 * The configured vault, or undefined (secrets stay in the partners table). In Azure the app reads
 * it as its user-assigned identity (Key Vault Secrets User on the vault); the partners CLI, run by
 * an operator without that client id, as whoever DefaultAzureCredential finds (`az login`; the
 * deployer holds Key Vault Secrets Officer).
 */
export function vaultFromConfig(vault: AppConfig["vault"]): SecretVault | undefined {
  if (!vault) return undefined;
  const credential = vault.clientId ? new ManagedIdentityCredential({ clientId: vault.clientId }) : new DefaultAzureCredential();
  return new CachedSecretVault(new KeyVaultSecrets(vault.url, credential));
}
