import {
  ClientAssertionCredential,
  ClientCertificateCredential,
  ClientSecretCredential,
  ManagedIdentityCredential,
  type TokenCredential,
} from "@azure/identity";
import type { GraphCredentialConfig } from "../config/config.js";
import { SimulatorCredential } from "./devCredential.js";

/**
 * The credential the worker asks for Graph tokens, per target tenant (a batch's tenantId).
 * Federated, secret and certificate credentials act as a multi-tenant app registration and may
 * request tokens for any tenant that consented to it (partners import into many), so every
 * tenant is allowed in addition to the home tenant. A plain managed identity lives in one
 * tenant and can only import there.
 */
export function createGraphCredential(
  config: GraphCredentialConfig,
  simulatorTenantId = "00000000-0000-0000-0000-000000000001",
): TokenCredential {
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
    case "federated-managed-identity": {
      // The managed identity's token for Entra's token exchange audience is the app's client assertion.
      const identity = new ManagedIdentityCredential({ clientId: config.managedIdentityClientId });
      const assertion = async () => (await identity.getToken("api://AzureADTokenExchange/.default")).token;
      return new ClientAssertionCredential(config.tenantId, config.clientId, assertion, { additionallyAllowedTenants: ["*"] });
    }
    case "managed-identity":
      return config.clientId ? new ManagedIdentityCredential({ clientId: config.clientId }) : new ManagedIdentityCredential();
    case "simulator":
      return new SimulatorCredential({ tenantId: simulatorTenantId, appId: config.appId });
  }
}
