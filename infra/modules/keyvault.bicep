// Key Vault for partner secrets (for example the app registration's client secret with
// GRAPH_CREDENTIAL=client-secret, read by the Function App through a Key Vault reference).
// RBAC authorization, soft delete and purge protection: a deleted vault or secret can be
// recovered for softDeleteRetentionInDays and cannot be purged before.

param name string
param location string
param tags { *: string } = {}

@description('Name of the user-assigned identity that reads secrets (same resource group).')
param identityName string

@description('Optional: a user or service principal (the one running azd) allowed to manage secrets.')
param deployerPrincipalId string = ''

@allowed(['User', 'ServicePrincipal', 'Group'])
param deployerPrincipalType string = 'User'

@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int = 90

// Built-in roles, from learn.microsoft.com/azure/role-based-access-control/built-in-roles#security
// (MicrosoftDocs/azure-docs articles/role-based-access-control/built-in-roles.md).
var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6' // Key Vault Secrets User
var keyVaultSecretsOfficer = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7' // Key Vault Secrets Officer

// By name, which is known before anything is deployed: role assignment names derive from its
// resource id, so what-if can predict them (a principal id exists only once the identity does).
resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' existing = {
  name: identityName
}

resource vault 'Microsoft.KeyVault/vaults@2026-05-15' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource appReadsSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, identity.id, keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource deployerManagesSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(vault.id, deployerPrincipalId, keyVaultSecretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsOfficer)
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
