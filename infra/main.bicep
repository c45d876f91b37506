// Everything `azd up` provisions for autopilot-import: a resource group holding the Function App
// (Flex Consumption, Node 22), its user-assigned identity, one storage account (host state,
// queues, tables, deployment package; no shared keys), Log Analytics + Application Insights, and a
// Key Vault for partner secrets. Subscription scope so azd can create the resource group.
// Parameters come from main.parameters.json (azd environment values); see README "Deploy to Azure".
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; with the subscription and location it seeds every resource name.')
param environmentName string

@minLength(1)
@description('Region for every resource. Flex Consumption is not offered everywhere: `az functionapp list-flexconsumption-locations`.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Resource group to create or reuse; default rg-<environmentName>.')
param resourceGroupName string = ''

@description('Upper bound on instances the app scales out to (1..1000). Graph writes are paced per tenant, so more instances buy little beyond parallel tenants.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory per instance, in MB.')
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

@description('How the worker gets Graph tokens: managed-identity (imports into this tenant only), federated-managed-identity (a multi-tenant app registration trusting the identity), or client-secret (secret in Key Vault).')
@allowed(['managed-identity', 'federated-managed-identity', 'client-secret'])
param graphCredential string = 'managed-identity'

@description('Graph API version.')
@allowed(['v1.0', 'beta'])
param graphApiVersion string = 'v1.0'

@description('Application (client) id of the app registration, for federated-managed-identity and client-secret.')
param graphAppClientId string = ''

@description('Home tenant of that app registration; default the tenant deployed into.')
param graphAppTenantId string = ''

@description('Name of the Key Vault secret holding the app registration\'s client secret (client-secret only).')
param graphClientSecretName string = 'graph-client-secret'

@description('Tenant a batch imports into when it names none; default the tenant deployed into with managed-identity, none otherwise.')
param defaultTenantId string = ''

@description('Audience of the app registration partners request Entra ID tokens for (its application id URI or client id); empty: partners authenticate with API keys only.')
param entraAudience string = ''

@description('Comma-separated issuers accepted with that audience, one per partner tenant: https://login.microsoftonline.com/<tenant id>/v2.0. Required with entraAudience.')
param entraIssuers string = ''

@description('Days a finished batch is kept (its devices\' hashes, product keys, users and outcomes) before every record of it is erased (1..3650). Partners can erase a batch sooner with DELETE /api/imports/{id}.')
@minValue(1)
@maxValue(3650)
param batchRetentionDays int = 30

@description('Object id of the user or service principal running azd (azd sets AZURE_PRINCIPAL_ID); granted Key Vault Secrets Officer to store partner secrets. Empty for none.')
param principalId string = ''

@description('Type of that principal.')
@allowed(['User', 'ServicePrincipal', 'Group'])
param principalType string = 'User'

@description('Key Vault name; default kv-<token>. Purge protection keeps a deleted vault\'s name taken for its retention period, so a redeployment after `azd down` needs a new environment name or this.')
param keyVaultName string = ''

@description('Accept Application Insights telemetry only with an Entra ID token.')
param appInsightsDisableLocalAuth bool = true

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = 'func-${resourceToken}'
// Storage and Key Vault names are global, 3..24 characters: 'st' / 'kv-' + 13 = 15 / 16.
var storageAccountName = 'st${resourceToken}'
var vaultName = !empty(keyVaultName) ? keyVaultName : 'kv-${resourceToken}'
var deploymentContainerName = 'app-package'
var identityName = 'id-${resourceToken}'
var applicationInsightsName = 'appi-${resourceToken}'

resource rg 'Microsoft.Resources/resourceGroups@2025-04-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: identityName
    location: location
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: storageAccountName
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    identityName: identityName
  }
  dependsOn: [identity]
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: applicationInsightsName
    location: location
    tags: tags
    identityName: identityName
    disableLocalAuth: appInsightsDisableLocalAuth
  }
  dependsOn: [identity]
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: vaultName
    location: location
    tags: tags
    identityName: identityName
    deployerPrincipalId: principalId
    deployerPrincipalType: principalType
  }
  dependsOn: [identity]
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  scope: rg
  params: {
    name: functionAppName
    planName: 'plan-${resourceToken}'
    location: location
    tags: tags
    // Names known before the deployment starts (not the modules' outputs), so what-if can resolve
    // the resources the app refers to; dependsOn below orders the deployment instead.
    identityName: identityName
    storageAccountName: storageAccountName
    deploymentContainerName: deploymentContainerName
    applicationInsightsName: applicationInsightsName
    keyVaultName: vaultName
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    graphCredential: graphCredential
    graphApiVersion: graphApiVersion
    graphAppClientId: graphAppClientId
    graphAppTenantId: !empty(graphAppTenantId) ? graphAppTenantId : tenant().tenantId
    graphClientSecretName: graphClientSecretName
    // A plain managed identity can only import into its own tenant, so that is the sensible default.
    defaultTenantId: !empty(defaultTenantId) ? defaultTenantId : (graphCredential == 'managed-identity' ? tenant().tenantId : '')
    entraAudience: entraAudience
    entraIssuers: entraIssuers
    batchRetentionDays: batchRetentionDays
  }
  dependsOn: [identity, storage, monitoring, keyVault]
}

// azd writes these into .azure/<environment>/.env.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_URL string = 'https://${functionApp.outputs.defaultHostName}'
output AZURE_MANAGED_IDENTITY_NAME string = identity.outputs.name
output AZURE_MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output AZURE_MANAGED_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_STORAGE_BLOB_ENDPOINT string = storage.outputs.blobEndpoint
output AZURE_STORAGE_QUEUE_ENDPOINT string = storage.outputs.queueEndpoint
output AZURE_STORAGE_TABLE_ENDPOINT string = storage.outputs.tableEndpoint
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_KEY_VAULT_ENDPOINT string = keyVault.outputs.uri
output AZURE_APPLICATION_INSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
