// The user-assigned managed identity the Function App runs as: the host and the app use it for
// storage (AzureWebJobsStorage__*), Application Insights ingestion, Key Vault references and,
// with GRAPH_CREDENTIAL=managed-identity, Microsoft Graph.

@description('Name of the user-assigned managed identity.')
param name string

param location string
param tags { *: string } = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output principalId string = identity.properties.principalId
output clientId string = identity.properties.clientId
