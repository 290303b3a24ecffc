"""Experiments on MLflow (`experiments`, `experiment_run`), the model registry with promotion
gates and audit (`registry`, `gates`), model folders that never unpickle (`artifacts`) and
model cards (`card`). `protocols.RunLogger` is the seam training logs through."""
