"""ragline's shared backbone and classical-ML track, one subpackage per idea:

tracking/  experiments (MLflow), the model registry, promotion gates, model cards
costs/     the cost ledger every cost event goes to, its settings, budgets
monitor/   the request log, serving health, drift, alerts, retraining
data/      data quality, leakage checks, table profiles, packaged data sets
method/    problem briefs, kill criteria, ML-vs-rules, model suggestion, A/B tests,
           deployment plans, the ML-system score
tabular/   training, tuning and the train/promote jobs
features/  the feature registry with offline and online stores
"""
