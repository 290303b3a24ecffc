"""ragline's data layer: load -> chunk -> embed (dense + sparse) -> store (Qdrant) -> retrieve.

Pure logic (chunking, ids, payloads) lives in plain functions over the typed values of
`rag.types`; disk, model and engine access live in adapters (`rag.loaders`, `rag.embed`,
`rag.store`). `rag.ingest` ties them into a resumable, idempotent ingest job.
"""
