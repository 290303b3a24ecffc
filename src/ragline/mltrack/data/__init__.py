"""Data checks before training: quality scores, leakage checks, table profiles, and the real
tabular sets shipped offline (UCI Adult, COMPAS)."""
