"""The checks routes make before touching a collection (rules: `tenancy.grants`).

    check_read(tenant, services, "docs")       # Denied: 403 without "read", 404 if not its
    readable(tenant, services, ["docs", "hr"]) # the names this key may see (GET /v1/models)
    claim_for_ingest(tenant, services, "docs") # Denied unless the key owns it, or makes it now
    denied_response(exc, rid)                  # the OpenAI-shaped error a route returns

A collection the key may not read is answered exactly as a missing one (`CollectionMissing`'s
message, 404), so its existence stays hidden. Ingest has to tell a taken name apart from a free
one (names are global), so a name another tenant owns is a 409 that names no owner.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.responses import JSONResponse

from ragline.serving.api.schemas import error_response
from ragline.serving.api.services import CollectionMissing, Services
from ragline.serving.api.tenancy.grants import Denied, Tenant
from ragline.serving.api.tenancy.owners import OWNERS_FILE, CollectionOwners


def owners(services: Services) -> CollectionOwners:
    """The ownership table of this server's data_dir."""
    return CollectionOwners(services.settings.data_dir / OWNERS_FILE)


def check_read(tenant: Tenant, services: Services, collection: str) -> None:
    """Denied unless `tenant` may read `collection` (403 without "read", else 404)."""
    tenant.require("read")
    if tenant.admin:
        return
    if not tenant.may_read(collection, owners(services).owner(collection)):
        raise Denied(404, str(CollectionMissing(collection)), "collection_not_found", "collection")


def readable(tenant: Tenant, services: Services, names: Iterable[str]) -> list[str]:
    """The collections of `names` that `tenant` may read, in their order."""
    if tenant.admin:
        return list(names)
    if not tenant.has("read"):
        return []
    table = owners(services).all()
    return [name for name in names if tenant.may_read(name, table.get(name))]


def claim_for_ingest(tenant: Tenant, services: Services, collection: str) -> None:
    """Denied unless `tenant` may ingest into `collection`: it owns it, or the name is new and
    it claims it now. Admins ingest anywhere and claim nothing (what they make is unowned)."""
    tenant.require("ingest")
    if tenant.admin:
        return
    table = owners(services)
    owner = table.owner(collection)
    if owner is None and collection not in services.collections():
        owner = table.claim(collection, tenant.owner)
    if owner == tenant.owner:
        return
    if tenant.may_read(collection, owner):
        why = f"collection {collection!r} is shared with API key {tenant.key!r} for reading only"
    else:
        why = f"the collection name {collection!r} is taken"
    raise Denied(
        409, f"{why}; ingest into a collection of your own (another name)", "collection_taken"
    )


def denied_response(exc: Denied, rid: str) -> JSONResponse:
    """The error a route answers for `exc` (403, 404 or 409, OpenAI's shape)."""
    return error_response(exc.status, str(exc), code=exc.code, param=exc.param, request_id=rid)
