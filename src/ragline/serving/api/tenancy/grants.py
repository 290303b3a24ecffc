"""What one API key may do: its owner (tenant), scopes, shared collections, ingest roots.

    tenant = Tenant.of(ApiKey(name="bob", sha256=d, scopes=("read",), collections=("handbook",)))
    tenant.require("ingest")          # Denied(403): API key 'bob' lacks the 'ingest' scope ...
    tenant.may_read("handbook", None) # True: shared with it
    tenant.may_read("alice-docs", "alice")   # False: another tenant's

The rules:
- A key reads collections its owner owns, and those listed in its `collections` ("*": all).
- Ingest jobs and conversations belong to the owner that made them; only that owner sees them.
- "admin" sees and changes everything, and so does a key configured without `scopes` (as every
  key could before tenancy) and the caller of a keyless (loopback) server.
- Scopes: "read" (query, search, rag chat, conversations), "write" (keep and delete server-side
  conversations), "ingest" (submit ingest jobs, paths under its `ingest_roots`), "admin".
Another tenant's collection, job or conversation answers 404, as a missing one does, so a key
learns nothing of what it may not see; a missing scope is a 403 naming the scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ragline.serving.serve_config import SCOPES, ApiKey, Scope

ANONYMOUS = "anonymous"
ALL = "*"


class Denied(Exception):
    """A request the caller's key may not make: `status` 403 (a missing scope, a path outside
    its roots) or 404 (something of another tenant); the message says what to do.

    raise Denied(403, "API key 'bob' lacks the 'ingest' scope ...", "missing_scope")
    """

    def __init__(self, status: int, message: str, code: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.param = status, code, param


@dataclass(frozen=True, slots=True)
class Tenant:
    """The caller as tenancy sees it (see the module docstring)."""

    key: str
    owner: str
    scopes: frozenset[Scope]
    shared: frozenset[str] = frozenset()
    ingest_roots: tuple[Path, ...] | None = None

    @classmethod
    def of(cls, key: ApiKey) -> Tenant:
        scopes = SCOPES if key.scopes is None else key.scopes
        shared = frozenset(key.collections)
        return cls(key.name, key.tenant, frozenset(scopes), shared, key.ingest_roots)

    @property
    def admin(self) -> bool:
        return "admin" in self.scopes

    def has(self, scope: Scope) -> bool:
        return self.admin or scope in self.scopes

    def require(self, scope: Scope) -> None:
        """Denied (403) unless the key has `scope` (or admin)."""
        if not self.has(scope):
            held = ", ".join(s for s in SCOPES if s in self.scopes) or "none"
            raise Denied(
                403,
                f"API key {self.key!r} lacks the {scope!r} scope (its scopes: {held}); ask the "
                f"operator to add {scope!r} to its serve.api_keys entry",
                "missing_scope",
            )

    def may_read(self, collection: str, owner: str | None) -> bool:
        """Whether this key may read `collection`, owned by `owner` (None: no tenant's)."""
        if self.admin or (owner is not None and owner == self.owner):
            return True
        return ALL in self.shared or collection in self.shared

    def sees(self, owner: str) -> bool:
        """Whether a job or conversation of `owner` is visible to this key."""
        return self.admin or owner == self.owner


KEYLESS = Tenant(ANONYMOUS, ANONYMOUS, frozenset(SCOPES))
