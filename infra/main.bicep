// Custom Vision DSR: Azure Functions (Flex Consumption, Python 3.11, Durable Functions on the Azure
// Storage provider) with Key Vault and Application Insights. Every data-plane call uses the app's
// user-assigned managed identity: storage shared keys and monitoring local auth are off.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; seeds the resource token and the azd-env-name tag.')
param environmentName string

@minLength(1)
@description('Region for every resource. It must offer the Flex Consumption plan.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Object id of the deploying user or service principal. It gets Key Vault Secrets Officer to store Custom Vision training keys. Empty: no assignment.')
param principalId string = ''

@description('Kind of principal that principalId names.')
@allowed([
  'User'
  'ServicePrincipal'
])
param principalType string = 'User'

@description('Resource group name; empty: rg-<environmentName>.')
param resourceGroupName string = ''

@description('Upper bound on Flex Consumption instances. The Training API allows about 10 calls/s per Custom Vision resource, so a larger fleet only meets more 429s.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory of each Flex Consumption instance.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Always-ready instances for the durable trigger group (orchestrators, activities). 1 is the documented recommendation for Durable Functions on Flex Consumption; 0 saves the baseline cost at the price of cold starts.')
@minValue(0)
@maxValue(10)
param durableAlwaysReadyInstances int = 1

@description('Comma-separated host suffixes that a request\'s Custom Vision endpoint must end with (DSR_ALLOWED_ENDPOINT_SUFFIXES). Training keys are only ever sent to these hosts.')
param allowedEndpointSuffixes string = '.cognitiveservices.azure.com,.api.cognitive.microsoft.com'

@description('Comma-separated host suffixes a callbackUrl may point to, https only (DSR_CALLBACK_ALLOWED_HOSTS), for example .logic.azure.com. Empty: callbacks are refused.')
param callbackAllowedHosts string = ''

@description('Whether a delete waits for an approver (DSR_APPROVAL_REQUIRED).')
@allowed([
  'true'
  'false'
])
param approvalRequired string = 'false'

@description('Days the export container keeps exports, subject payloads and working copies of receipts (DSR_EXPORT_RETENTION_DAYS); the lifecycle policy deletes them after that.')
@minValue(1)
param exportRetentionDays int = 30

@description('Days rejected intake items (intake/rejected/) are kept (DSR_REJECTED_RETENTION_DAYS).')
@minValue(1)
param rejectedRetentionDays int = 7

@description('Hours after a request ends before its Durable history is purged (DSR_HISTORY_PURGE_AFTER_HOURS); the status document stays.')
@minValue(1)
param historyPurgeAfterHours int = 24

@description('NCRONTAB schedule (UTC) of the retention timer (DSR_RETENTION_SCHEDULE): hourly by default.')
param retentionSchedule string = '0 0 * * * *'

@description('Days every version of a receipt or status document stays immutable (version-level WORM).')
@minValue(1)
param recordsImmutabilityDays int = 1825

@description('State of the records account\'s default immutability policy. Locked is irreversible: the period can then only be extended and the account cannot be deleted while any version is protected.')
@allowed([
  'Unlocked'
  'Locked'
])
param recordsImmutabilityState string = 'Unlocked'

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}

var functionAppName = '${abbrs.webSitesFunctions}api-${resourceToken}'
// Flex Consumption reads the app package from this container; one container per app.
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'
// Names the application code expects (dsr/config.py defaults, the queue trigger's %DSR_REQUEST_QUEUE%).
var exportContainerName = 'dsr-exports'
var recordsContainerName = 'dsr-records'
var requestQueueName = 'dsr-requests'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}api-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    exportContainerName: exportContainerName
    deploymentContainerName: deploymentContainerName
    requestQueueName: requestQueueName
    exportRetentionDays: exportRetentionDays
    rejectedRetentionDays: rejectedRetentionDays
  }
}

module records 'app/records.bicep' = {
  name: 'records'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}rec${resourceToken}'
    location: location
    tags: tags
    recordsContainerName: recordsContainerName
    immutabilityDays: recordsImmutabilityDays
    immutabilityState: recordsImmutabilityState
  }
}

module keyVault 'app/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: '${abbrs.keyVaultVaults}${resourceToken}'
    location: location
    tags: tags
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    recordsAccountName: records.outputs.name
    keyVaultName: keyVault.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    appPrincipalId: identity.outputs.principalId
    deployerPrincipalId: principalId
    deployerPrincipalType: principalType
  }
}

module api 'app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    planName: '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    serviceName: 'api'
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    exportContainerName: exportContainerName
    recordsBlobEndpoint: records.outputs.blobEndpoint
    recordsContainerName: recordsContainerName
    exportRetentionDays: exportRetentionDays
    rejectedRetentionDays: rejectedRetentionDays
    historyPurgeAfterHours: historyPurgeAfterHours
    retentionSchedule: retentionSchedule
    requestQueueName: requestQueueName
    keyVaultUri: keyVault.outputs.uri
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    allowedEndpointSuffixes: allowedEndpointSuffixes
    callbackAllowedHosts: callbackAllowedHosts
    approvalRequired: approvalRequired
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    durableAlwaysReadyInstances: durableAlwaysReadyInstances
  }
  // The host starts as soon as the app exists; with its roles in place it never sees a 403 on start.
  dependsOn: [
    rbac
  ]
}

// Names and URLs only: no keys, connection strings or instrumentation keys leave the deployment.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output SERVICE_API_NAME string = api.outputs.name
output SERVICE_API_URI string = api.outputs.uri
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_KEY_VAULT_URL string = keyVault.outputs.uri
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output DSR_EXPORT_CONTAINER string = exportContainerName
output DSR_RECORDS_CONTAINER string = recordsContainerName
output AZURE_RECORDS_STORAGE_ACCOUNT_NAME string = records.outputs.name
output DSR_REQUEST_QUEUE string = requestQueueName
