// One StorageV2 account for the Functions host (Durable task hub tables/queues/leases, queue trigger),
// the Flex deployment package, and the app's working copies (exports, subject payloads, rejected
// intake items), which a lifecycle policy deletes when their retention period ends. Receipts and
// status documents live in the records account (records.bicep). Shared keys are off: every caller
// authenticates with Entra ID.
param name string
param location string
param tags object
param exportContainerName string
param deploymentContainerName string
param requestQueueName string

@description('Days after which everything in the export container is deleted (DSR_EXPORT_RETENTION_DAYS).')
@minValue(1)
param exportRetentionDays int

@description('Days after which rejected intake items (intake/rejected/) are deleted (DSR_REJECTED_RETENTION_DAYS).')
@minValue(1)
param rejectedRetentionDays int

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  // checkov:skip=CKV_AZURE_206: holds only working copies that expire and Durable state a request can be re-run from; the records account (records.bicep) is geo-redundant
  // checkov:skip=CKV_AZURE_35: no VNet in this template; the app on Flex Consumption reaches storage over the internet, and every call needs Entra ID and an RBAC role
  // checkov:skip=CKV_AZURE_59: same reason as CKV_AZURE_35: public network access is needed without VNet integration; shared keys and anonymous access are off
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

  // Azure's lifecycle engine runs about once a day, so a blob goes within a day or so of its due date;
  // the app's retention timer (DSR_RETENTION_SCHEDULE) deletes by the same rule in between.
  resource lifecycle 'managementPolicies' = {
    name: 'default'
    properties: {
      policy: {
        rules: [
          {
            name: 'expire-rejected-intake'
            enabled: true
            type: 'Lifecycle'
            definition: {
              filters: {
                blobTypes: [
                  'blockBlob'
                ]
                prefixMatch: [
                  '${exportContainerName}/intake/rejected/'
                ]
              }
              actions: {
                baseBlob: {
                  delete: {
                    daysAfterCreationGreaterThan: rejectedRetentionDays
                  }
                }
              }
            }
          }
          {
            name: 'expire-exports'
            enabled: true
            type: 'Lifecycle'
            definition: {
              filters: {
                blobTypes: [
                  'blockBlob'
                ]
                prefixMatch: [
                  '${exportContainerName}/'
                ]
              }
              actions: {
                baseBlob: {
                  delete: {
                    daysAfterCreationGreaterThan: exportRetentionDays
                  }
                }
              }
            }
          }
        ]
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
