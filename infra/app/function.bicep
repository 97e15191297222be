// The function app on Flex Consumption (Python 3.11). Identity-based connections only: the host's
// storage (AzureWebJobsStorage__*), the app's blob store (DSR_STORAGE_CONNECTION = blob endpoint URL),
// Key Vault and Application Insights all use the user-assigned managed identity.
param appName string
param planName string
param location string
param tags object
param identityId string
param identityClientId string
param storageAccountName string
param deploymentContainerName string
param appInsightsConnectionString string
param keyVaultUri string
param exportContainerName string
param requestQueueName string
param allowedEndpointSuffixes string
param callbackAllowedHosts string
param approvalRequired bool

@description('Upper bound on Flex Consumption instances (also bounds parallel Custom Vision calls per account).')
param maximumInstanceCount int = 40
param instanceMemoryMB int = 2048

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { tier: 'FlexConsumption', name: 'FC1' }
  properties: { reserved: true }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: appName
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: [
        { name: 'AzureWebJobsStorage__accountName', value: storage.name }
        { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
        { name: 'AzureWebJobsStorage__clientId', value: identityClientId }
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsightsConnectionString }
        { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'ClientId=${identityClientId};Authorization=AAD' }
        // DefaultAzureCredential in the app code picks the user-assigned identity by this client id.
        { name: 'AZURE_CLIENT_ID', value: identityClientId }
        { name: 'DSR_STORAGE_CONNECTION', value: storage.properties.primaryEndpoints.blob }
        { name: 'DSR_EXPORT_CONTAINER', value: exportContainerName }
        { name: 'DSR_REQUEST_QUEUE', value: requestQueueName }
        { name: 'DSR_KEY_VAULT_URL', value: keyVaultUri }
        { name: 'DSR_ALLOWED_ENDPOINT_SUFFIXES', value: allowedEndpointSuffixes }
        { name: 'DSR_CALLBACK_ALLOWED_HOSTS', value: callbackAllowedHosts }
        { name: 'DSR_APPROVAL_REQUIRED', value: approvalRequired ? 'true' : 'false' }
      ]
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
      }
      runtime: { name: 'python', version: '3.11' }
    }
  }
}

// No publishing with basic credentials: deployments go through Entra ID (azd uses it).
resource ftp 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'ftp'
  properties: { allow: false }
}

resource scm 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'scm'
  properties: { allow: false }
}

output name string = app.name
output url string = 'https://${app.properties.defaultHostName}'
