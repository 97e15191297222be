// One StorageV2 account for the Functions host (Durable task hub tables/queues/leases, queue trigger),
// the Flex deployment package, and the app's own data (exports, receipts, status documents).
// Shared keys are off: every caller authenticates with Entra ID.
param name string
param location string
param tags object
param exportContainerName string
param deploymentContainerName string
param requestQueueName string

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    supportsHttpsTrafficOnly: true
    minimumTlsVersion: 'TLS1_2'
    dnsEndpointType: 'Standard'
    // Reachable over the internet as in the azd Functions templates without a VNet; every request
    // still needs an Entra token and an RBAC role.
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }

  resource blobService 'blobServices' = {
    name: 'default'
    properties: {
      // No blob soft delete: an erased export must really be gone, not kept for a retention window.
      deleteRetentionPolicy: {
        enabled: false
      }
    }

    resource exportContainer 'containers' = {
      name: exportContainerName
      properties: {
        publicAccess: 'None'
      }
    }

    resource deploymentContainer 'containers' = {
      name: deploymentContainerName
      properties: {
        publicAccess: 'None'
      }
    }
  }

  resource queueService 'queueServices' = {
    name: 'default'

    resource requestQueue 'queues' = {
      name: requestQueueName
    }

    // The host moves a message here after maxDequeueCount (host.json) failed attempts.
    resource poisonQueue 'queues' = {
      name: '${requestQueueName}-poison'
    }
  }
}

output name string = storage.name
output id string = storage.id
