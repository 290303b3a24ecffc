"""Anomaly detection on tables (``data.task: anomaly``): the alert budget, the robust z-score
baseline, and the checks a config must pass; `ragline.mltrack.tabular.train` runs it."""
