"""Chat model providers, each a `ragline.core.chat.ChatModel` registered by name in
`ragline.llm_router.registry`: local (llama.cpp), extractive, openai, vllm, anthropic."""
