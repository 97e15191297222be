"""Key Vault stand-in (secrets subset) with an App Service style managed-identity token endpoint.

Run with ``python -m devstack.keyvault serve --data-dir DIR``; ``python -m devstack start keyvault``
does that with the project's ports and data directory.
"""
