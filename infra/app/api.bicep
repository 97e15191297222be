// The function app: Flex Consumption plan, Python 3.11, one user-assigned identity for everything.
// Host storage (Durable task hub, queue trigger), the app's blob store, Key Vault and Application
// Insights are all reached with that identity; no setting holds a key.
param name string
param planName string
param location string
param tags object

@description('azd service name in azure.yaml; azd finds the app to deploy to by this tag.')
param serviceName string

param identityId string
param identityClientId string
param storageAccountName string
param deploymentContainerName string
param exportContainerName string
param recordsBlobEndpoint string
param recordsContainerName string
param exportRetentionDays int
param rejectedRetentionDays int
param historyPurgeAfterHours int
param retentionSchedule string
param requestQueueName string
param keyVaultUri string
param applicationInsightsName string
param allowedEndpointSuffixes string
param callbackAllowedHosts string
param approvalRequired string
param maximumInstanceCount int
param instanceMemoryMB int
param durableAlwaysReadyInstances int

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// Flex Consumption manages the runtime itself: FUNCTIONS_EXTENSION_VERSION and
// FUNCTIONS_WORKER_RUNTIME are not app settings on this plan (functionAppConfig.runtime replaces them).
var appSettings = {
  // Functions host storage, identity-based: the host derives the blob/queue/table endpoints.
  AzureWebJobsStorage__accountName: storage.name
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  // Telemetry with Entra ID; the workspace and component refuse the instrumentation key alone.
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  // DefaultAzureCredential in dsr/ (blob store, Key Vault) uses this user-assigned identity only.
  AZURE_CLIENT_ID: identityClientId
  AZURE_TOKEN_CREDENTIALS: 'ManagedIdentityCredential'
  // An https URL, not a connection string: dsr/storage.py then authenticates with the identity.
  DSR_STORAGE_CONNECTION: 'https://${storage.name}.blob.${environment().suffixes.storage}'
  DSR_KEY_VAULT_URL: keyVaultUri
  DSR_EXPORT_CONTAINER: exportContainerName
  // Receipts and status documents: the records account (version-level WORM), with the identity too.
  DSR_RECORDS_CONNECTION: recordsBlobEndpoint
  DSR_RECORDS_CONTAINER: recordsContainerName
  // One source for retention: the lifecycle policy in storage.bicep uses the same parameters.
  DSR_EXPORT_RETENTION_DAYS: string(exportRetentionDays)
  DSR_REJECTED_RETENTION_DAYS: string(rejectedRetentionDays)
  DSR_HISTORY_PURGE_AFTER_HOURS: string(historyPurgeAfterHours)
  DSR_RETENTION_SCHEDULE: retentionSchedule
  DSR_REQUEST_QUEUE: requestQueueName
  DSR_ALLOWED_ENDPOINT_SUFFIXES: allowedEndpointSuffixes
  DSR_CALLBACK_ALLOWED_HOSTS: callbackAllowedHosts
  DSR_APPROVAL_REQUIRED: approvalRequired
  // Durable on Flex Consumption: poll the task hub queues at least every 10 s (default 30 s).
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__maxQueuePollingInterval: '00:00:10'
}

// Always-ready instances for the per-function scale group that runs orchestrators and activities.
var durableGroup = {
  name: 'durable'
  instanceCount: durableAlwaysReadyInstances
}
var alwaysReady = durableAlwaysReadyInstances > 0 ? [durableGroup] : []

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  // checkov:skip=CKV_AZURE_225: zone redundancy needs a region with availability zones; a zone outage only pauses requests, which Durable resumes from storage
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

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': serviceName
  })
  kind: 'functionapp,linux'
  // checkov:skip=CKV_AZURE_222: the HTTP API is called by compliance portals and Logic Apps over the internet; every route needs a function key
  // checkov:skip=CKV_AZURE_17: callers authenticate with function keys (or API Management in front), not client certificates
  // checkov:skip=CKV_AZURE_212: Flex Consumption places and replaces instances itself; the durable group keeps one always-ready instance
  // checkov:skip=CKV_AZURE_213: Flex Consumption has no App Service health check (Dedicated and Premium plans only)
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientAffinityEnabled: false
    publicNetworkAccess: 'Enabled'
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        alwaysReady: alwaysReady
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }

  resource settings 'config' = {
    name: 'appsettings'
    properties: appSettings
  }

  // No FTP and no basic-auth publishing: azd deploys with an Entra token.
  resource ftpPublishing 'basicPublishingCredentialsPolicies' = {
    name: 'ftp'
    properties: {
      allow: false
    }
  }

  resource scmPublishing 'basicPublishingCredentialsPolicies' = {
    name: 'scm'
    properties: {
      allow: false
    }
  }
}

output name string = app.name
output uri string = 'https://${app.properties.defaultHostName}'
