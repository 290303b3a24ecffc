"""The small UCI Adult training config the mltrack and `ragline ml` tests share (~3 s to train).

path.write_text(adult_config(data, "{hypothesis: t, register_as: m}", kind="lightgbm"))
"""

from __future__ import annotations

from pathlib import Path

STRONG = "age, education-num, hours-per-week"
_BODY = """
data: {{path: {data}, target: income, task: classification, positive_label: 1, protected: sex}}
split: {{kind: stratified, test_size: 0.25, valid_size: 0.2, seed: 0}}
features:
  numeric: [{{columns: [{numeric}]}}]
  categorical: [{{columns: [relationship, marital-status, sex], encoding: onehot}}]
baseline: {{kind: majority}}
model: {{kind: {kind}, rounds: 60, early_stopping: 10, threads: 1}}
metrics: {{primary: roc_auc, resamples: 200}}
quality: {{target: income, min_rows: 1000, min_rows_per_class: 100, declared: {{timeliness: 2}}}}
"""

# A model on a column of pure noise (the test adds it): what kill criteria exist to catch.
NOISE_CONFIG = """
experiment: {{hypothesis: noise predicts income}}
data: {{path: {data}, target: income, task: classification, positive_label: 1}}
split: {{kind: stratified, test_size: 0.25, valid_size: 0.2, seed: 0}}
features: {{numeric: [{{columns: [noise]}}]}}
baseline: {{kind: majority}}
model: {{kind: sklearn-logreg}}
metrics: {{primary: roc_auc, resamples: 200}}
quality: {{target: income, min_rows: 1000, min_rows_per_class: 100, declared: {{timeliness: 2}}}}
"""


def adult_config(data: Path, experiment: str, kind: str = "lightgbm", numeric: str = STRONG) -> str:
    """A training config over `data` (an Adult CSV); `experiment` is its YAML flow mapping."""
    return f"experiment: {experiment}" + _BODY.format(data=data, kind=kind, numeric=numeric)
