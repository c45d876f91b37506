// Log Analytics workspace and the workspace-based Application Insights the Functions host and the
// app's OpenTelemetry exporter write to. With local (instrumentation key) authentication off,
// telemetry is accepted only with an Entra token: the host takes the managed identity from
// APPLICATIONINSIGHTS_AUTHENTICATION_STRING, and the identity needs Monitoring Metrics Publisher.

param logAnalyticsName string
param applicationInsightsName string
param location string
param tags { *: string } = {}

@description('Name of the user-assigned identity that sends telemetry (same resource group).')
param identityName string

@description('Days Log Analytics keeps data.')
@minValue(30)
@maxValue(730)
param retentionInDays int = 30

@description('Accept telemetry only with an Entra ID token (no instrumentation-key ingestion).')
param disableLocalAuth bool = true

// Built-in role, from learn.microsoft.com/azure/role-based-access-control/built-in-roles#monitor
// (MicrosoftDocs/azure-docs articles/role-based-access-control/built-in-roles.md).
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb' // Monitoring Metrics Publisher

// By name, which is known before anything is deployed: role assignment names derive from its
// resource id, so what-if can predict them (a principal id exists only once the identity does).
resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' existing = {
  name: identityName
}

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2026-03-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    DisableLocalAuth: disableLocalAuth
  }
}

resource telemetryPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, identity.id, monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

output applicationInsightsName string = appInsights.name
output applicationInsightsConnectionString string = appInsights.properties.ConnectionString
output logAnalyticsName string = logAnalytics.name
