import { ClientCertificateCredential, ClientSecretCredential, ManagedIdentityCredential, type TokenCredential } from "@azure/identity";
import type { GraphCredentialConfig } from "../config/config.js";
import { SimulatorCredential } from "./devCredential.js";

/**
 * The credential the worker asks for Graph tokens. Secret and certificate credentials may
 * request tokens for any tenant the app is consented in (partners import into many), so every
 * tenant is allowed in addition to the home tenant.
 */
export function createGraphCredential(config: GraphCredentialConfig, simulatorTenantId = "00000000-0000-0000-0000-000000000001"): TokenCredential {
  switch (config.kind) {
    case "client-secret":
      return new ClientSecretCredential(config.tenantId, config.clientId, config.clientSecret, { additionallyAllowedTenants: ["*"] });
    case "client-certificate":
      return new ClientCertificateCredential(
        config.tenantId,
        config.clientId,
        { certificatePath: config.certificatePath },
        { additionallyAllowedTenants: ["*"] },
      );
    case "managed-identity":
      return config.clientId ? new ManagedIdentityCredential({ clientId: config.clientId }) : new ManagedIdentityCredential();
    case "simulator":
      return new SimulatorCredential({ tenantId: simulatorTenantId, appId: config.appId });
  }
}
