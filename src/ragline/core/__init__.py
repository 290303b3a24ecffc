"""ragline's kernel: the types and narrow protocols every layer shares, defined once. It imports
nothing else of ragline.

    chat          ChatModel, ChatRequest, Message, Completion, StreamChunk, Usage
    embedding     Embedder, SparseEncoder, TokenWindow
    index         VectorIndex, StorePoint, Hit, StoreQuery, CollectionSpec
    filters       Filter, Match, MatchAny, Range, DateRange, HasId
    costs         CostEvent, CostSink, ScopedSink, cost_scope, MemorySink
    pricing       Prices (every kind of cost), PriceTable (LLM tokens), nano-dollar arithmetic
    errors        RaglineError, the root of every package's error tree
    memory_index  MemoryIndex: a VectorIndex in memory (tests, small caches)
    testing       CostSinkConformance (needs pytest)
"""
