/**
 * Entry point of `npm run partners -- …`: the storage account from the environment, exactly as
 * the app reads it (AzureWebJobsStorage, or the identity-based settings), and with KEY_VAULT_URL
 * the vault webhook signing secrets go to; then the command.
 */
import { loadConfig } from "../config/config.js";
import { SettingsError } from "../config/settings.js";
import { createStorageClients } from "../storage/clients.js";
import { PartnerStore } from "../auth/partnerStore.js";
import { vaultFromConfig } from "../secrets/vaultFromConfig.js";
import { runPartnersCommand } from "./partnersCommand.js";
import { errorMessage } from "../model/errorMessage.js";

async function main(): Promise<number> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    console.error(error.message);
    return 2;
  }
  const storage = createStorageClients(config.storage, "storage", config.storageRetry);
  await Promise.all([storage.partners.createTable(), storage.partnerKeys.createTable(), storage.partnerApps.createTable()]);
  return runPartnersCommand(process.argv.slice(2), new PartnerStore(storage, undefined, vaultFromConfig(config.vault)), {
    out: (line) => console.log(line),
    err: (line) => console.error(line),
  });
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(errorMessage(error));
    process.exit(1);
  },
);
