"""ragline's data layer: load -> chunk -> embed (dense + sparse) -> store (Qdrant) -> retrieve.

Pure logic (chunking, ids, payloads) lives in plain functions over the typed values of
`ragline.rag.types`; disk, model and engine access live in adapters (`ragline.rag.loaders`,
`ragline.rag.embed`, `ragline.rag.store`). `ragline.rag.ingest` ties them into a resumable,
idempotent ingest job.
"""
