"""Tenancy: which data an API key sees and changes.

    tenant = Tenant.of(api_key)               # grants.py: scopes, owner, shared collections
    check_read(tenant, services, "docs")      # access.py: Denied(404) for another's collection
    CollectionOwners(data_dir / OWNERS_FILE)  # owners.py: collection -> owner, in SQLite

The rules are in `grants` (the module docstring); docs/deploy.md ("Tenancy") shows the config.
"""
