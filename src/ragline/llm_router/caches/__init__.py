"""The router's response caches: exact (SQLite or Redis) and semantic (a vector index)."""
