"""Batch APIs for offline work: many chat requests submitted at once, answered within hours at
half the list price (OpenAI Batch API, Anthropic Message Batches).

    runner = BatchRunner(router, data_dir / "batches", on_event=print)
    outcomes = runner.run(requests)      # Completion or ProviderError per request, in order

Modules: `config` (the `llm.batch` settings), `vendors` (the types a vendor client returns and
the `VendorBatches` seam), `openai_batch` and `anthropic_batch` (the two clients, reusing their
providers' request bodies and reply parsing), `journal` (submitted batches on disk, keyed by
the request set, so a rerun resumes), `runner` (submit, poll, download, retry, price, record).
Nothing is imported here: `ragline.llm_router.config` imports `batch.config`.
"""
