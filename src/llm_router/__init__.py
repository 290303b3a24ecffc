"""ragline's orchestration and model layer: providers, routing, caches, token counting, cost events.

It imports no other ragline package; the protocols it needs are defined here.
"""
