"""Metrics, pure: retrieval (trec_eval-exact), generation (answers and citations), classical
(classification and regression), calibration curves, fairness."""
