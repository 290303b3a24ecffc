"""A/B split and canary with automatic rollback (`split`), and where their per-arm windows
live: this process or Redis (`store`)."""
