"""What a collection created with another layout than the settings now ask for gets.

    if stored_dims != spec.dims:
        raise dims_mismatch("docs", stored_dims, spec.dims)
    if stored_kind != wanted_kind:
        log.warning(quantization_mismatch("docs", stored_kind, wanted_kind))

A collection's vector size (the embedder's width, or `embedding.truncate_dim`) and its
quantization kind are fixed when it is created. Vectors of another width cannot go in: both
adapters (Edge, server) refuse, naming the fixes. Another quantization only changes how the
same float32 vectors are searched, so the collection keeps working as it was made (as every
collection-layout setting does: it takes effect when a collection is created) and a warning,
logged once per store, names how to apply the new setting.
"""

from __future__ import annotations

import logging

from ragline.rag.errors import StoreError


def dims_mismatch(collection: str, stored: int | None, wanted: int) -> StoreError:
    """A collection of `stored`-d vectors, an embedder (or `truncate_dim`) giving `wanted`-d.

    >>> "truncate_dim" in str(dims_mismatch("docs", 384, 128))
    True
    """
    return StoreError(
        f"collection {collection!r} holds {stored}-d vectors but the embedder gives "
        f"{wanted}-d (embedding.model, or embedding.truncate_dim, changed since it was created); "
        f"set them back so that vectors are {stored}-d, or ingest into another collection "
        f"(ragline ingest PATH --collection NEW), or drop this one "
        f"(ragline delete --all --collection {collection}) and ingest again"
    )


def quantization_mismatch(collection: str, stored: str, wanted: str) -> str:
    """The warning for a collection created with quantization `stored` when the settings ask
    for `wanted`.

    >>> "store.quantization" in quantization_mismatch("docs", "none", "int8")
    True
    """
    return (
        f"collection {collection!r} was created with store.quantization {stored!r} and is "
        f"searched that way, although the settings ask for {wanted!r} (it applies to new "
        f"collections); to apply it, ingest into another collection (ragline ingest PATH "
        f"--collection NEW), or drop this one (ragline delete --all --collection {collection}) "
        f"and ingest again; set store.quantization: {stored} to silence this"
    )


log = logging.getLogger("ragline.rag.store")
