import type { WebhookConfig } from "../config/config.js";
import type { StorageClients } from "../storage/clients.js";
import { WEBHOOK_QUEUE } from "../storage/names.js";
import type { PartnerStore } from "../auth/partnerStore.js";
import { WebhookQueue } from "./deliveryMessage.js";
import type { WebhookSecrets } from "./deliverWebhook.js";
import { NotificationStore } from "./notificationStore.js";
import { createWebhookPoster, type WebhookPoster } from "./webhookClient.js";

/** The per-process parts of batch-completion webhooks. */
export interface WebhookServices {
  notifications: NotificationStore;
  queue: WebhookQueue;
  post: WebhookPoster;
  secrets: WebhookSecrets;
}

export function createWebhookServices(
  storage: StorageClients,
  partners: Pick<PartnerStore, "webhookSecretsFor">,
  config: WebhookConfig,
): WebhookServices {
  return {
    notifications: new NotificationStore(storage.imports),
    queue: new WebhookQueue(storage.queueNamed(WEBHOOK_QUEUE)),
    post: createWebhookPoster({ timeoutMs: config.timeoutMs, allowedHosts: config.allowedHosts }),
    secrets: { secretsFor: (partnerId) => partners.webhookSecretsFor(partnerId) },
  };
}
