"""ragline's evaluation layer: pure metrics, confidence intervals, suites and gates.

It imports no other ragline package; the protocols it needs are defined here.
"""
