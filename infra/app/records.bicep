// A storage account of its own for the records a DSR tool must be able to show later: deletion receipts
// (hash-chained per Custom Vision account) and final status documents. Version-level WORM: blob
// versioning is on and every version inherits a time-based immutability policy, so an overwrite makes
// a new version while the earlier one stays, unmodifiable and undeletable, for the period. Kept apart
// from the main account so versioning never keeps an expired export (or Functions host blobs) alive.
param name string
param location string
param tags object
param recordsContainerName string

@description('Days every version of a receipt or status document stays immutable.')
@minValue(1)
param immutabilityDays int

@description('Unlocked: the period can still be shortened or the policy removed by an Owner. Locked: it can only be extended, and the account cannot be deleted while any version is protected.')
@allowed([
  'Unlocked'
  'Locked'
])
param immutabilityState string


resource records 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  // Geo-redundant: receipts are the evidence, and GRS is offered in every region.
  sku: {
    name: 'Standard_GRS'
  }
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
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
    // Version-level WORM can only be enabled when the account is created.
    immutableStorageWithVersioning: {
      enabled: true
      immutabilityPolicy: {
        immutabilityPeriodSinceCreationInDays: immutabilityDays
        state: immutabilityState
        allowProtectedAppendWrites: false
      }
    }
  }

  resource blobService 'blobServices' = {
    name: 'default'
    properties: {
      isVersioningEnabled: true
    }

    resource recordsContainer 'containers' = {
      name: recordsContainerName
      properties: {
        publicAccess: 'None'
      }
    }
  }
}

output name string = records.name
output id string = records.id
output blobEndpoint string = records.properties.primaryEndpoints.blob
