"""Adapters for other frameworks, each behind an optional extra; they use only the public API
of `ragline` (and `ragline.core` types), so they work as any user's code would.

    ragline.integrations.langchain     pip install 'ragline[langchain]'
    ragline.integrations.llama_index   pip install 'ragline[llama-index]'
"""
