// The Flex Consumption plan (FC1) and the Function App: Linux, Node 22, running as the
// user-assigned identity. Every app setting is declared here, in siteConfig.appSettings: a
// re-provision replaces the whole set, so a setting added by hand in the portal is gone after the
// next `azd provision`. test/infra/bicepCrossCheck.test.ts checks the names, as the compiled
// template sets them for each graphCredential, against src/config/settings.ts.
//
// Not set on purpose: FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION,
// WEBSITE_RUN_FROM_PACKAGE and the content-share settings are deprecated on Flex Consumption
// (functionAppConfig carries the runtime and the deployment source instead).

@description('Name of the Function App.')
param name string

@description('Name of the Flex Consumption plan.')
param planName string

param location string
param tags { *: string } = {}

@description('Resource name of the user-assigned identity the app runs as.')
param identityName string

@description('Storage account for AzureWebJobsStorage, the app\'s queues and tables, and the deployment package.')
param storageAccountName string

@description('Blob container of that account holding the deployment package.')
param deploymentContainerName string

@description('Workspace-based Application Insights the host and the app send telemetry to.')
param applicationInsightsName string

@description('Key Vault holding secrets that app settings reference (client-secret credential).')
param keyVaultName string

@description('Upper bound on instances the app scales out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int

@description('Memory per instance, in MB.')
@allowed([512, 2048, 4096])
param instanceMemoryMB int

@description('How the worker gets Graph tokens (README "Credentials for real Graph"). client-certificate needs a PEM file on disk, which Flex Consumption cannot load, so it is not offered.')
@allowed(['managed-identity', 'federated-managed-identity', 'client-secret'])
param graphCredential string

@allowed(['v1.0', 'beta'])
param graphApiVersion string

@description('Application (client) id of the multi-tenant app registration (federated-managed-identity, client-secret).')
param graphAppClientId string

@description('Home tenant of that app registration.')
param graphAppTenantId string

@description('Key Vault secret holding the app registration\'s client secret (client-secret).')
param graphClientSecretName string

@description('Tenant a batch imports into when it names none; empty for none.')
param defaultTenantId string

@description('Audience (application id URI or client id) of the app registration partners request Entra ID tokens for; empty: API keys only.')
param entraAudience string

@description('Comma-separated token issuers accepted with that audience, e.g. https://login.microsoftonline.com/<partner tenant>/v2.0.')
param entraIssuers string

@description('Days a finished batch is kept before every record of it is erased.')
@minValue(1)
@maxValue(3650)
param batchRetentionDays int

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' existing = {
  name: identityName
}

resource storage 'Microsoft.Storage/storageAccounts@2026-09-01' existing = {
  name: storageAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource keyVault 'Microsoft.KeyVault/vaults@2026-05-15' existing = {
  name: keyVaultName
}

// Read by the Functions host itself, not by src/: its blobs (function keys, timer and singleton
// leases) over the identity, and its telemetry, ingested with the identity (Entra ID auth; the
// identity holds Monitoring Metrics Publisher on the Application Insights resource). The two
// APPLICATIONINSIGHTS_ settings are read by src/config/settings.ts too: the app's own
// OpenTelemetry export (README "Telemetry") ingests with the same identity.
var hostSettings = [
  {
    name: 'AzureWebJobsStorage__blobServiceUri'
    value: storage.properties.primaryEndpoints.blob
  }
  {
    name: 'AzureWebJobsStorage__credential'
    value: 'managedidentity'
  }
  {
    name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
    value: appInsights.properties.ConnectionString
  }
  {
    name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
    value: 'ClientId=${identity.properties.clientId};Authorization=AAD'
  }
]

// Read by src/config/settings.ts (the storage ones by the host's queue trigger too: its
// `connection` is AzureWebJobsStorage).
var codeSettings = [
  {
    name: 'AzureWebJobsStorage__queueServiceUri'
    value: storage.properties.primaryEndpoints.queue
  }
  {
    name: 'AzureWebJobsStorage__tableServiceUri'
    value: storage.properties.primaryEndpoints.table
  }
  {
    name: 'AzureWebJobsStorage__clientId'
    value: identity.properties.clientId
  }
  {
    name: 'GRAPH_CREDENTIAL'
    value: graphCredential
  }
  {
    name: 'GRAPH_API_VERSION'
    value: graphApiVersion
  }
  {
    // Partner webhook signing secrets (src/secrets/), read as the identity (Key Vault Secrets User).
    name: 'KEY_VAULT_URL'
    value: keyVault.properties.vaultUri
  }
  {
    // How long a finished batch's records (hashes, product keys, users) are kept: a data
    // retention decision, so the deployment states it rather than leaving it to the code's default.
    name: 'BATCH_RETENTION_DAYS'
    value: string(batchRetentionDays)
  }
  {
    // The identity itself (managed-identity), or the app registration that trusts it
    // (federated-managed-identity) or owns the secret (client-secret).
    name: 'AZURE_CLIENT_ID'
    value: graphCredential == 'managed-identity' ? identity.properties.clientId : graphAppClientId
  }
]

var federatedSettings = graphCredential == 'federated-managed-identity' ? [
  {
    name: 'AZURE_TENANT_ID'
    value: graphAppTenantId
  }
  {
    name: 'MANAGED_IDENTITY_CLIENT_ID'
    value: identity.properties.clientId
  }
] : []

// The secret itself never passes through the deployment: the setting is a Key Vault reference,
// resolved by the platform with keyVaultReferenceIdentity (Key Vault Secrets User on the vault).
var clientSecretSettings = graphCredential == 'client-secret' ? [
  {
    name: 'AZURE_TENANT_ID'
    value: graphAppTenantId
  }
  {
    name: 'AZURE_CLIENT_SECRET'
    value: '@Microsoft.KeyVault(VaultName=${keyVault.name};SecretName=${graphClientSecretName})'
  }
] : []

var defaultTenantSettings = empty(defaultTenantId) ? [] : [
  {
    name: 'DEFAULT_TENANT_ID'
    value: defaultTenantId
  }
]

// Partner Entra ID tokens are accepted only with an audience, and then need their issuers.
var entraSettings = empty(entraAudience) ? [] : [
  {
    name: 'ENTRA_AUDIENCE'
    value: entraAudience
  }
  {
    name: 'ENTRA_ISSUERS'
    value: entraIssuers
  }
]

resource plan 'Microsoft.Web/serverfarms@2025-03-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2025-03-01' = {
  name: name
  location: location
  // azd finds the resource to deploy the `api` service of azure.yaml to by this tag.
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identity.id
    siteConfig: {
      minTlsVersion: '1.2'
      // azd deploys the package to blob storage with Entra ID; nothing needs FTP.
      ftpsState: 'Disabled'
      appSettings: concat(hostSettings, codeSettings, federatedSettings, clientSecretSettings, defaultTenantSettings, entraSettings)
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identity.id
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }
}

// No deployment or FTP with a site-level user name and password: deployments authenticate with
// Entra ID (azd, the Azure CLI), so basic publishing credentials would only be a secret to leak.
resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2025-03-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2025-03-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

output name string = functionApp.name
output defaultHostName string = functionApp.properties.defaultHostName
