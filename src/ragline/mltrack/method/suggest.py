"""Model selection from measured data: profile a table, apply rules, write a starter config.

    profile = profile_frame(frame, target="income")          # ragline.mltrack.data.profile: rows,
    classes, kinds advice = suggest(profile)                                 # model, scale-up,
    avoid, params text = render_config(advice, data_ref="adult.csv")        # YAML `ragline ml
    train` reads

Every rule states the measurement it rests on, so a reader can check it against the data.
The thresholds are module constants: fewer than `TINY_ROWS` rows starts linear (or a random
forest), otherwise LightGBM; categoricals with more than `profile.HIGH_CARDINALITY` values are
target encoded (one-hot keeps at most 50 columns per feature); a datetime column turns the split
temporal; a minority class under `IMBALANCED` rules accuracy out, under `RARE` it makes PR-AUC
the primary metric. A column is left out as leakage only where `ragline ml train`'s leakage check
would stop the run (alone ROC-AUC ≥ `LEAK_AUC`, R² ≥ `LEAK_R2`); one in the warning band below is
kept, and named for a check: the best measurements of real tables get there (tumour size
predicts malignancy with AUC 0.97). `refused` carries the data-quality gate's refusal, so the
config's header never says "next: ragline ml train" about a table that training refuses.
Hyper-parameter ranges come from `ragline.mltrack.tabular.tuning.DEFAULT_SPACES`
(what `ragline ml tune` searches), narrowed where the row count says so.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import yaml

from ragline.mltrack.data.leakage import LEAK_AUC, LEAK_R2, WARN_AUC, WARN_R2
from ragline.mltrack.data.profile import ColumnProfile, DataProfile
from ragline.mltrack.errors import DataError
from ragline.mltrack.forecast.seasonal import infer_season
from ragline.mltrack.tabular.config import ModelKind, ParamRange, ParamValue, TrainConfig
from ragline.mltrack.tabular.tuning import DEFAULT_SPACES

TINY_ROWS = 1_000  # below: a linear model or a forest; the test CI is wide whatever the learner
DEEP_NET_ROWS = 10_000  # below: neural nets over-fit and trail boosted trees on tables
LARGE_ROWS = 1_000_000
IMBALANCED = 0.30  # minority share under which accuracy mostly measures the majority class
RARE = 0.10  # minority share under which ROC-AUC flatters; PR-AUC becomes the primary metric
SKEWED = 2.0  # skewness above which a non-negative column gets the log op
_STEP, _LEAVES, _LEAF = (
    "step size: lower generalises better, needs more rounds",
    "tree complexity, the main over-fitting knob",
    "rows a leaf needs: raise it on small or noisy data",
)
_COLS, _ROWS, _L2 = (
    "columns sampled per tree: decorrelates the trees",
    "rows sampled per round: variance reduction",
    "L2 penalty on leaf values",
)
_WHY_PARAM = {
    "learning_rate": _STEP,
    "eta": _STEP,
    "num_leaves": _LEAVES,
    "max_leaf_nodes": _LEAVES,
    "max_depth": "tree depth: deeper trees fit interactions, and noise",
    "min_data_in_leaf": _LEAF,
    "min_child_weight": _LEAF,
    "min_samples_leaf": _LEAF,
    "feature_fraction": _COLS,
    "colsample_bytree": _COLS,
    "max_features": _COLS,
    "bagging_fraction": _ROWS,
    "subsample": _ROWS,
    "bagging_freq": "resample rows every round (bagging_fraction needs it)",
    "lambda_l2": _L2,
    "lambda": _L2,
    "l2_regularization": _L2,
    "C": "inverse regularisation: smaller is simpler",
}


@dataclass(frozen=True, slots=True)
class Advice:
    """One recommendation and the measurement behind it.

    Example:
        >>> Advice("accuracy as the metric", "minority 24.8%: the majority scores 75.2%").what
        'accuracy as the metric'
    """

    what: str
    why: str


@dataclass(frozen=True, slots=True)
class HyperParam:
    """A critical hyper-parameter: where to start, the range to tune over, why it matters.

    Example:
        >>> HyperParam("C", 1.0, ParamRange(low=1e-3, high=100, log=True), "regularisation").start
        1.0
    """

    name: str
    start: ParamValue
    range: ParamRange
    why: str


@dataclass(frozen=True, slots=True)
class Suggestion:
    """The recommendation `suggest` derives from a `DataProfile`.

    Example:
        >>> s = suggest(profile_frame(pd.DataFrame({"x": range(40), "y": [0, 1] * 20}), "y"))
        >>> s.model, [a.what for a in s.excluded]
        ('sklearn-logreg', ['x'])
    """

    profile: DataProfile
    model: ModelKind
    start: Advice
    scale_up: tuple[Advice, ...]
    avoid: tuple[Advice, ...]
    params: tuple[HyperParam, ...]
    split: Advice
    metric: Advice
    excluded: tuple[Advice, ...]
    primary: str
    time_column: str | None
    refused: str | None = None  # the data-quality gate's refusal of this table, if any
    season: int | None = None  # forecasting: a numeric target over a time column
    cycle: str | None = None  # forecasting: the calendar cycle for features.temporal.cycles
    alert_budget: float | None = None  # anomaly detection: the share of rows to flag


def _bars(p: DataProfile) -> tuple[float, float]:
    """(error, warning) bars of the leakage check for the profile's task."""
    return (LEAK_R2, WARN_R2) if p.task == "regression" else (LEAK_AUC, WARN_AUC)


def _leaky(p: DataProfile) -> list[ColumnProfile]:
    error, _ = _bars(p)
    return [c for c in p.columns if c.alone is not None and c.alone >= error]


def _strong(p: DataProfile) -> list[ColumnProfile]:
    error, warn = _bars(p)
    return [c for c in p.columns if c.alone is not None and warn <= c.alone < error]


def _features(p: DataProfile) -> list[ColumnProfile]:
    leaky = {c.name for c in _leaky(p)}
    kinds = p.of_kind("numeric", "categorical", "high_cardinality")
    return [c for c in kinds if c.name not in leaky]


def _choose_model(p: DataProfile) -> tuple[ModelKind, Advice]:
    n = f"{p.rows:,} rows"
    gaps = [c.name for c in _features(p) if c.kind == "numeric" and c.missing > 0]
    if p.rows < TINY_ROWS and p.task == "classification" and not gaps:
        why = f"{n} < {TINY_ROWS:,}: a regularised linear model has few parameters to over-fit"
        return "sklearn-logreg", Advice("sklearn-logreg on standardised features", why)
    if p.rows < TINY_ROWS:
        reason = "no linear regressor among the model kinds"
        if gaps:
            reason = f"numeric gaps in {gaps[:3]} (logistic regression cannot take them)"
        why = f"{n} < {TINY_ROWS:,}; a forest of shallow trees needs little tuning; {reason}"
        return "sklearn-rf", Advice("sklearn-rf (random forest)", why)
    kinds = f"{len(p.of_kind('numeric'))} numeric and "
    kinds += f"{len(p.of_kind('categorical', 'high_cardinality'))} categorical columns"
    why = (
        f"{n} >= {TINY_ROWS:,} with {kinds}: gradient-boosted trees are the strongest first "
        "model on tables, take missing values and mixed scales as they are, and stop early"
    )
    return "lightgbm", Advice("lightgbm with early stopping", why)


def _params(p: DataProfile, kind: ModelKind) -> tuple[HyperParam, ...]:
    space = dict(DEFAULT_SPACES[kind])
    train_rows = int(p.rows * 0.6)
    start: dict[str, ParamValue] = {}
    if kind == "lightgbm":
        leaves = 15 if p.rows < DEEP_NET_ROWS else 63 if p.rows >= LARGE_ROWS else 31
        start = {"learning_rate": 0.05, "num_leaves": leaves}
        start["min_data_in_leaf"] = int(np.clip(train_rows // 1000, 5, 100))
        if p.rows < DEEP_NET_ROWS:  # a small table cannot fill 128 leaves with enough rows each
            space["num_leaves"] = ParamRange(low=4, high=48, log=True, integer=True)
    elif kind == "sklearn-logreg":
        start = {"C": 1.0}
    elif kind == "sklearn-rf":
        start = {"min_samples_leaf": 2 if p.rows < TINY_ROWS else 1}
    out = []
    for name, r in space.items():
        out.append(HyperParam(name, start.get(name), r, _WHY_PARAM.get(name, "")))
    return tuple(out)


def _split(p: DataProfile) -> tuple[Advice, str | None]:
    times = p.of_kind("datetime")
    if times:
        t = times[0]
        why = f"{t.name!r} is time ({t.reason}): a random split trains on the future"
        why += f"; drop the {t.missing:.1%} of rows without a time first" if t.missing else ""
        return Advice(f"temporal on {t.name}", why), t.name
    if p.task == "classification":
        share = p.minority_share or 0.0
        why = f"keeps the minority class ({share:.1%}) at the same share in every split"
        return Advice("stratified", why), None
    return Advice("stratified", "target quantile strata keep the value range in every split"), None


def _metric(p: DataProfile) -> Advice:
    if p.task == "regression":
        skew = p.target_skew or 0.0
        if skew > SKEWED:
            return Advice("mae", f"target skew {skew:.1f} > {SKEWED}: RMSE follows a few rows")
        return Advice("rmse", f"target skew {skew:.1f}: RMSE in the target's units")
    share = p.minority_share or 0.0
    if share < RARE:
        return Advice("pr_auc", f"minority {share:.1%} < {RARE:.0%}: ROC-AUC flatters rare hits")
    return Advice("roc_auc", f"minority {share:.1%}: ranking quality, threshold-free")


def _avoid(p: DataProfile, kind: ModelKind, time_column: str | None) -> list[Advice]:
    out = []
    deep = f"{p.rows:,} rows < {DEEP_NET_ROWS:,}: nets over-fit; trees win on tables this size"
    if p.rows >= DEEP_NET_ROWS:
        deep = f"{p.rows:,} rows: trees match nets on tables; try nets only if trees plateau"
    out.append(Advice("deep nets as the first model", deep))
    for c in p.of_kind("high_cardinality"):
        out.append(Advice(f"one-hot on {c.name}", f"{c.unique} values: target encoding instead"))
    if time_column is not None:
        out.append(Advice("a random split", f"{time_column!r} orders the rows: split by time"))
    share = p.minority_share
    if share is not None and share < IMBALANCED:
        why = f"minority {share:.1%}: always answering the majority scores {1 - share:.1%}"
        out.append(Advice("accuracy as the metric", why))
    error, _ = _bars(p)
    for c in _leaky(p):
        why = f"{c.name!r} alone predicts the target ({c.alone:.3f} ≥ {error}): leakage; left out"
        out.append(Advice(f"the feature {c.name}", why))
    for c in _strong(p):
        why = f"alone {c.alone:.3f}, under the leakage bar {error}: kept as a feature; "
        why += "confirm it is known before the outcome"
        out.append(Advice(f"trusting {c.name} unexamined", why))
    for c in p.of_kind("identifier", "text"):
        out.append(Advice(f"{c.name} as a categorical", c.reason))
    if p.rows < TINY_ROWS:
        why = f"~{int(p.rows * 0.2)} validation rows: many trials fit the noise"
        out.append(Advice("long tuning runs (> 20 trials)", why))
    if kind == "sklearn-logreg":
        out.append(Advice("unscaled inputs", "logistic regression's penalty assumes one scale"))
    return out


def _scale_up(p: DataProfile, kind: ModelKind) -> list[Advice]:
    steps = []
    if kind != "lightgbm":
        steps.append(Advice("lightgbm", f"once there are >= {TINY_ROWS:,} rows (now {p.rows:,})"))
    trials = 20 if p.rows < DEEP_NET_ROWS else 50
    steps.append(Advice(f"ragline ml tune CONFIG --trials {trials}", "over the ranges below"))
    if kind == "lightgbm":
        steps.append(Advice("xgboost on the same config", "a second tree builder as a check"))
    for c in p.of_kind("text"):
        why = "text features (TF-IDF, embeddings) are not in TrainConfig yet"
        steps.append(Advice(f"text features from {c.name}", why))
    for c in p.of_kind("datetime")[:1]:
        why = "lags, rolling stats, cycles per entity: features.temporal"
        steps.append(Advice(f"temporal features from {c.name}", why))
    if p.rows >= 100_000:
        steps.append(Advice("deep tabular nets", f"{p.rows:,} rows: worth a try if trees plateau"))
    else:
        steps.append(Advice("more labelled rows", f"{p.rows:,} rows: data beats a bigger model"))
    return steps


def suggest(
    p: DataProfile, *, frame: pd.DataFrame | None = None, anomaly: bool = False
) -> Suggestion:
    """The recommendation for profile `p`: see the module docstring for the rules. With
    `anomaly`, the binary target is a rare anomaly label (`_anomaly`); a numeric target with a
    time column in `frame` is a forecast (`_forecast`)."""
    if anomaly:
        return _anomaly(p)
    base = _supervised(p)
    times = p.of_kind("datetime")
    if p.task != "regression" or frame is None or not times or times[0].name not in frame:
        return base
    return _forecast(base, *infer_season(frame[times[0].name]))


def _forecast(s: Suggestion, season: int, cycle: str | None, why: str) -> Suggestion:
    """A numeric target over time: the target's own lags, the seasonal-naive baseline, and
    leaves that fit a line (trees cannot predict past the largest train value: a trend)."""
    target = s.profile.target
    lags = sorted({1, 2, season})
    what = f"{s.model} on lags {lags} of {target}"
    why_start = f"a numeric target over {s.time_column!r}: its recent past forecasts it best"
    if s.model == "lightgbm":
        what += " with linear leaves (linear_tree)"
        why_start += "; plain trees cannot forecast beyond the largest train value (a trend)"
    start = Advice(what, why_start)
    base = Advice(f"seasonal_naive, season {season}", why)
    avoid = (*s.avoid, Advice("lags of 0 or future rows", "lags count back from 1: past only"))
    return replace(
        s,
        start=start,
        avoid=avoid,
        excluded=s.excluded,
        season=season,
        cycle=cycle,
        scale_up=(base, *s.scale_up),
    )


def _anomaly(p: DataProfile) -> Suggestion:
    """A rare 0/1 label declared as anomalies: an Isolation Forest that never reads it."""
    share = p.minority_share
    if p.task != "classification" or share is None or share >= IMBALANCED:
        raise DataError(
            f"--task anomaly needs a rare 0/1 label (minority under {IMBALANCED:.0%}); "
            f"{p.target!r} has {share if share is None else f'{share:.1%}'}: train a "
            "classifier instead (--task classification)"
        )
    why = f"anomalies are {share:.1%} of {p.rows:,} rows: learn what is normal, flag the rest"
    trees = HyperParam(
        "n_estimators", 200, ParamRange(low=100, high=500, integer=True), "more: steadier scores"
    )
    return Suggestion(
        p,
        "isolation-forest",
        Advice("isolation-forest on every usable column; the label only scores it", why),
        (Advice("more labelled anomalies", "precision@K on a handful of cases has wide CIs"),),
        (
            Advice(
                "training a classifier on the label", f"{share:.1%} positives: it memorises them"
            ),
        ),
        (trees,),
        Advice("stratified", f"keeps the {share:.1%} anomalies at the same share in every split"),
        Advice("pr_auc", f"anomalies {share:.1%}: ROC-AUC flatters rare hits"),
        tuple(Advice(c.name, c.reason) for c in p.of_kind("identifier", "constant", "text"))
        + tuple(Advice(c.name, f"alone predicts the label ({c.alone:.3f})") for c in _leaky(p)),
        "pr_auc",
        None,
        alert_budget=float(np.clip(round(share, 3), 0.001, 0.5)),
    )


def _supervised(p: DataProfile) -> Suggestion:
    kind, start = _choose_model(p)
    split, time_column = _split(p)
    metric = _metric(p)
    excluded = [Advice(c.name, c.reason) for c in p.of_kind("identifier", "constant", "text")]
    excluded += [Advice(c.name, "time column: used to split") for c in p.of_kind("datetime")[:1]]
    excluded += [Advice(c.name, "another time column") for c in p.of_kind("datetime")[1:]]
    excluded += [Advice(c.name, f"alone predicts the target ({c.alone:.3f})") for c in _leaky(p)]
    return Suggestion(
        p,
        kind,
        start,
        tuple(_scale_up(p, kind)),
        tuple(_avoid(p, kind, time_column)),
        _params(p, kind),
        split,
        metric,
        tuple(excluded),
        metric.what,
        time_column,
    )


def _feature_section(s: Suggestion) -> dict[str, object]:
    feats = _features(s.profile)
    scale: list[str] = ["standardize"] if s.model == "sklearn-logreg" else []
    numeric = [c for c in feats if c.kind == "numeric"]
    skewed = [c.name for c in numeric if (c.skew or 0) > SKEWED and c.missing < 1]
    plain = [c.name for c in numeric if c.name not in skewed]
    groups = [(plain, scale), (skewed, ["log", *scale])]
    numeric_groups = [{"columns": cols} | ({"ops": ops} if ops else {}) for cols, ops in groups]
    section: dict[str, object] = {"numeric": [g for g in numeric_groups if g["columns"]]}
    low = {"columns": [c.name for c in feats if c.kind == "categorical"], "encoding": "onehot"}
    high = [c.name for c in feats if c.kind == "high_cardinality"]
    target = {"columns": high, "encoding": "target", "folds": 5}  # out-of-fold, no leak
    if s.alert_budget is not None:  # anomaly models never read the label: one-hot instead
        target = {"columns": high, "encoding": "onehot", "max_categories": 50}
    section["categorical"] = [g for g in (low, target) if g["columns"]]
    return section


def _space(s: Suggestion) -> dict[str, dict[str, object]]:
    space = {h.name: h.range.model_dump(exclude_defaults=True) for h in s.params}
    for name, r in space.items():  # 8, not 8.0, for an integer parameter
        if r.get("integer"):
            space[name] = r | {k: int(v) for k, v in r.items() if k in ("low", "high")}
    return space


def config_body(s: Suggestion, data_ref: str) -> dict[str, object]:
    """The starter config as a plain mapping; `starter_config` validates it."""
    p = s.profile
    task = "anomaly" if s.alert_budget is not None else p.task
    data: dict[str, object] = {"path": data_ref, "target": p.target, "task": task}
    if p.task == "classification":
        data["positive_label"] = p.positive
    if s.time_column is not None:
        data["time_column"] = s.time_column
    start = {h.name: h.start for h in s.params if h.start is not None}
    if (
        s.season is not None and s.model == "lightgbm"
    ):  # a line per leaf follows the trend; few, large leaves keep the
        # lines steady (15 leaves of 5 rows forecast CO2 worse than last year's value)
        start |= {"linear_tree": True, "num_leaves": 8, "min_data_in_leaf": 20}
    model: dict[str, object] = {"kind": s.model, "params": start}
    if s.model == "lightgbm":
        model |= {"rounds": 1000 if p.rows >= LARGE_ROWS else 500, "early_stopping": 30}
    tune: dict[str, object] = {"trials": 0, "seed": 0}
    tune |= {} if task == "anomaly" else {"space": _space(s)}  # anomaly models are not tuned
    tune |= {} if s.primary == "roc_auc" else {"metric": s.primary}  # roc_auc is the default
    return {
        "experiment": {"hypothesis": f"{s.model} starter beats the baseline on {s.primary}"},
        "data": data,
        "split": {
            "kind": "temporal" if s.time_column else "stratified",
            "test_size": 0.2,
            "valid_size": 0.2,
            "seed": 0,
        },
        "features": _feature_section(s) | _temporal_section(s),
        "model": model,
        "tune": tune,
        "metrics": {"primary": s.primary},
    } | _baseline_section(s)


def _temporal_section(s: Suggestion) -> dict[str, object]:
    """A forecast's features: lags 1, 2 and one season of the target, a rolling mean, and the
    calendar cycle of the time column (all past-only or calendar-only)."""
    if s.season is None or s.time_column is None:
        return {}
    target = s.profile.target
    own = {"column": target, "lags": sorted({1, 2, s.season})}
    own["rolling"] = [{"window": max(2, min(s.season, 4)), "stats": ["mean"]}]
    cycles = [{"column": s.time_column, "cycles": [s.cycle]}] if s.cycle else []
    return {"temporal": [own, *cycles]}


def _baseline_section(s: Suggestion) -> dict[str, object]:
    if s.alert_budget is not None:
        return {"baseline": {"kind": "zscore"}, "anomaly": {"alert_budget": s.alert_budget}}
    if s.season is not None:
        return {"baseline": {"kind": "seasonal_naive", "season": s.season}}
    return {"baseline": {"kind": "auto"}}


def starter_config(s: Suggestion, data_ref: str) -> TrainConfig:
    """The validated starter `TrainConfig` (its data.path as given, not yet resolved)."""
    return TrainConfig.model_validate(config_body(s, data_ref))


def render_config(s: Suggestion, data_ref: str, source: str = "") -> str:
    """The starter config as YAML, its header saying what was measured and decided."""
    task = starter_config(s, data_ref).data.task  # refuse a config `ml train` would reject
    p = s.profile
    lines = [
        f"# starter config written by `ragline ml suggest` from {source or data_ref}",
        f"# measured: {p.rows:,} rows, task {task}"
        + (f", classes {p.classes}" if p.classes else ""),
        f"# model: {s.start.what}: {s.start.why}",
        f"# split: {s.split.what}: {s.split.why}",
        f"# metric: {s.metric.what}: {s.metric.why}",
        *(f"# left out: {a.what}: {a.why}" for a in s.excluded),
        *(f"# avoid: {a.what}: {a.why}" for a in s.avoid),
        *(f"# next: {a.what}: {a.why}" for a in s.scale_up),
    ]
    if s.refused is None:
        lines.append(
            "#   ragline ml train THIS.yaml        (tune.trials: 0 trains once with model.params)"
        )
    else:
        lines.append(f"# `ragline ml train` refuses this table now: {s.refused}")
    body = config_body(s, data_ref)
    text = yaml.safe_dump(body, sort_keys=False, default_flow_style=None, width=100)
    return "\n".join(lines) + "\n" + text
