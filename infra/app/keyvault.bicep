// Holds the Custom Vision training keys, one secret per account. Access is Azure RBAC only (no access
// policies); the app reads with Key Vault Secrets User, operators write with Key Vault Secrets Officer.
param name string
param location string
param tags object

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  // checkov:skip=CKV_AZURE_109: no VNet in this template, so the app's Flex instances have no fixed address to allow; reads need Entra ID and Key Vault Secrets User
  // checkov:skip=CKV_AZURE_189: same reason as CKV_AZURE_109: without VNet integration the app reaches the vault over its public endpoint
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
    softDeleteRetentionInDays: 90
    // A deleted vault or key cannot be purged before the retention ends, by anyone.
    enablePurgeProtection: true
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    // Operators add keys from their machines (az keyvault secret set); RBAC still guards every call.
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

output name string = vault.name
output id string = vault.id
output uri string = vault.properties.vaultUri
