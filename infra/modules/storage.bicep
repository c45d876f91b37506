// The one storage account of the app: the Functions host's own state (blobs: keys, timer and
// singleton locks), the app's queues and tables (src/storage/names.ts; the app also creates them
// at start-up, which is harmless), and the Flex Consumption deployment package container.
// Shared keys are disabled: the host, the app and the deployment all authenticate with Entra ID.
// test/infra/bicepCrossCheck.test.ts checks queueNames and tableNames against the code.

param name string
param location string
param tags { *: string } = {}

@description('Blob container that holds the Flex Consumption deployment package.')
param deploymentContainerName string

@description('Name of the user-assigned identity that the host and the app run as (same resource group).')
param identityName string

@allowed(['Standard_LRS', 'Standard_ZRS', 'Standard_GRS', 'Standard_GZRS', 'Standard_RAGRS', 'Standard_RAGZRS'])
param skuName string = 'Standard_LRS'

// Every queue and table the code names (src/storage/names.ts). A trigger's own poison queue
// (`<queue>-poison`) is created by the Functions host when it first needs one; the ones the code
// names are declared here.
var queueNames = [
  'device-imports'
  'device-imports-poison'
  'device-followers'
  'device-followers-poison'
  'device-fanout'
  'device-fanout-poison'
  'webhook-deliveries'
  'webhook-deliveries-poison'
]

var tableNames = [
  'imports'
  'tenantpacing'
  'intakejournal'
  'importsbypartner'
  'deregistrationsbypartner'
  'partners'
  'partnerkeys'
  'partnerapps'
  'idempotencykeys'
  'ratelimits'
]

// Built-in roles, from learn.microsoft.com/azure/role-based-access-control/built-in-roles#storage
// (MicrosoftDocs/azure-docs articles/role-based-access-control/built-in-roles.md).
//
// Queue Data Contributor rather than Message Processor (8a0f0c08-…) + Message Sender (c6a89b2d-…):
// those two cover reading, deleting and sending messages, but not creating a queue, and both the
// app (ensureStorage creates its queues at start-up) and the Functions host (a trigger's
// `<queue>-poison` queue, created on the first poisoned message) create queues. The grant is on
// this one account, which holds nothing but this app's state.
// Table Data Contributor: the app reads and writes its tables and creates them at start-up.
// Blob Data Owner: the host's blobs (keys, timer and singleton leases) and the deployment package,
// as the Functions documentation requires for AzureWebJobsStorage over an identity.
var storageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88' // Storage Queue Data Contributor
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3' // Storage Table Data Contributor
var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' // Storage Blob Data Owner

// By name, which is known before anything is deployed: role assignment names derive from its
// resource id, so what-if can predict them (a principal id exists only once the identity does).
resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' existing = {
  name: identityName
}

resource storage 'Microsoft.Storage/storageAccounts@2026-09-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2026-09-01' = {
  parent: storage
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2026-09-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2026-09-01' = {
  parent: storage
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2026-09-01' = [for queueName in queueNames: {
  parent: queueService
  name: queueName
}]

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2026-09-01' = {
  parent: storage
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2026-09-01' = [for tableName in tableNames: {
  parent: tableService
  name: tableName
}]

resource queueDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, storageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageQueueDataContributor)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource tableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageTableDataContributor)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource blobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataOwner)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

output name string = storage.name
output deploymentContainerName string = deploymentContainer.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output queueEndpoint string = storage.properties.primaryEndpoints.queue
output tableEndpoint string = storage.properties.primaryEndpoints.table
