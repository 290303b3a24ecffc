"""ragline's application layer: typed settings, wiring, the `ragline` CLI (and later the API)."""
