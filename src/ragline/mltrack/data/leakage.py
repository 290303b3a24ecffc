"""Leakage checks: pure functions over data and a recorded pipeline trace, one report shape.

    report = future_features(frame, "predicted_at", ["last_login_at"])
    report += split_after_engineering(trace, train_index=X_train.index)
    report += target_derived_features(X_train, y_train)
    require_clean(report)             # LeakageFound lists every finding and its fix

The checks, each named by its function:

- ``future_features``: a feature's timestamp is later than the prediction time.
- ``split_after_engineering``: a transformer (scaler, imputer, encoder) was fitted on rows outside
  the training split: the split came after feature engineering, or a scaler saw the test rows.
  It reads a *pipeline trace*, one ``FitRecord`` per fitted step; ``fit_record_from_statistics``
  rebuilds a record from a fitted transformer's statistics when no trace was kept.
- ``target_encoding_outside_folds``: a target encoder transformed rows it was fitted on, or was
  fitted on a fold's validation rows.
- ``target_derived_features``: one feature alone predicts the target almost perfectly
  (out-of-fold ROC-AUC ≥ 0.99, or R² ≥ 0.96, i.e. |corr| ≥ 0.98), from a depth-3 tree or ranks;
  or a feature is the label relabelled with at most ``COPY_FLIPS`` of it flipped (Cohen's kappa
  ≥ ``COPY_KAPPA``); or two numeric columns reproduce a numeric or binary target linearly with
  R² ≥ 0.96 while neither does alone (``a + b = target``). See ``ragline.mltrack.data.copies``.
- ``entity_overlap``: the same entity (customer, patient) is in train and test.

``run_all`` runs every check whose inputs it is given. Findings are errors, except features
close to the target-derived threshold (AUC ≥ 0.95, R² ≥ 0.90), which are warnings; a report is
``clean`` when it has no error.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.metrics import r2_score
from sklearn.model_selection import KFold
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from ragline.evals.metrics.classical import roc_auc
from ragline.mltrack.data.copies import label_copy, linear_pairs
from ragline.mltrack.errors import DataError, LeakageFound

CheckName = Literal[
    "future_features",
    "split_after_engineering",
    "target_encoding_outside_folds",
    "target_derived_features",
    "entity_overlap",
]
Severity = Literal["error", "warning"]
Statistic = Literal["mean", "std", "min", "max"]
Fold = tuple[Collection[Hashable], Collection[Hashable]]
LEAK_AUC, LEAK_R2 = 0.99, 0.96  # one feature alone this good: an error (target-derived)
WARN_AUC, WARN_R2 = 0.95, 0.90  # this good: a warning, strong features of real data get here
COPY_FLIPS = 0.10  # a relabelled feature that disagrees with the label on at most 10% of rows
COPY_KAPPA = 0.6  # ... and agrees well beyond chance (a majority class alone gives kappa 0)


@dataclass(frozen=True)
class Finding:
    """One leak: which check, how bad, where, the numbers, and what to do about it."""

    check: CheckName
    severity: Severity
    column: str | None
    evidence: str
    fix: str

    def __str__(self) -> str:
        where = f" [{self.column}]" if self.column else ""
        return f"{self.severity}: {self.check}{where}: {self.evidence}. Fix: {self.fix}"


@dataclass(frozen=True)
class LeakageReport:
    """Findings of the checks in ``checks``; add reports with ``+``.

    >>> train, test = pd.DataFrame({"id": [1, 2]}), pd.DataFrame({"id": [2]})
    >>> report = entity_overlap(train, test, "id") + LeakageReport()
    >>> report.clean, report.checks
    (False, ('entity_overlap',))
    """

    findings: tuple[Finding, ...] = ()
    checks: tuple[CheckName, ...] = ()

    @property
    def clean(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    def __add__(self, other: LeakageReport) -> LeakageReport:
        return LeakageReport(self.findings + other.findings, self.checks + other.checks)


def require_clean(report: LeakageReport) -> LeakageReport:
    """Return ``report`` when it has no error finding; else raise LeakageFound listing all."""
    if report.clean:
        return report
    lines = "\n".join(f"  - {f}" for f in report.findings)
    raise LeakageFound(f"{len(report.findings)} leakage finding(s):\n{lines}")


@dataclass(frozen=True)
class FitRecord:
    """One fitted pipeline step: the rows it learned from and, optionally, the rows it transformed.

    ``uses_target`` marks target encoders; ``fold`` is the CV fold a per-fold step belongs to.

    >>> X = pd.DataFrame({"age": [30, 40, 50, 60]})
    >>> FitRecord.of("scaler", X.columns, X.index[:3], transformed=X.index).fitted_on_index
    frozenset({0, 1, 2})
    """

    step: str
    columns: tuple[str, ...]
    fitted_on_index: frozenset[Hashable]
    transformed_index: frozenset[Hashable] | None = None
    uses_target: bool = False
    fold: int | None = None

    @classmethod
    def of(
        cls,
        step: str,
        columns: Iterable[str],
        fitted_on: Iterable[Hashable],
        transformed: Iterable[Hashable] | None = None,
        uses_target: bool = False,
        fold: int | None = None,
    ) -> FitRecord:
        """Build a record from any iterables of columns and row ids (a pandas Index works)."""
        seen = None if transformed is None else frozenset(transformed)
        return cls(step, tuple(columns), frozenset(fitted_on), seen, uses_target, fold)


def _examples(ids: Iterable[Hashable], limit: int = 5) -> list[Hashable]:
    return sorted(ids, key=str)[:limit]


def _require(frame: pd.DataFrame, columns: Iterable[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"columns {missing} are not in the data (it has {list(frame.columns)[:20]})"
        )


def _times(frame: pd.DataFrame, column: str) -> pd.Series:
    raw = frame[column]
    parsed = pd.to_datetime(raw, errors="coerce", utc=True, format="mixed")
    bad = parsed.isna() & raw.notna()
    if bad.any():
        raise DataError(
            f"{int(bad.sum())} values of {column!r} are not timestamps "
            f"(e.g. {raw[bad].iloc[0]!r}): fix the column's format before the leakage check"
        )
    return parsed


def future_features(
    frame: pd.DataFrame, prediction_time_col: str, feature_time_cols: Iterable[str]
) -> LeakageReport:
    """Flag each feature-time column with a value later than the row's prediction time.

    >>> frame = pd.DataFrame({"at": ["2024-01-02"], "seen_at": ["2024-01-03"]})
    >>> future_features(frame, "at", ["seen_at"]).clean
    False
    """
    columns = list(feature_time_cols)
    _require(frame, [prediction_time_col, *columns])
    at = _times(frame, prediction_time_col)
    findings = []
    for column in columns:
        lead = _times(frame, column) - at
        late = (lead > pd.Timedelta(0)).to_numpy()
        if late.any():
            evidence = (
                f"{int(late.sum())} of {len(frame)} rows ({late.mean():.1%}) have {column!r} "
                f"after {prediction_time_col!r}, by up to {lead.max()}; "
                f"rows {_examples(frame.index[late])}"
            )
            fix = f"build the feature from data known at {prediction_time_col} (point-in-time join)"
            findings.append(Finding("future_features", "error", column, evidence, fix))
    return LeakageReport(tuple(findings), ("future_features",))


def split_after_engineering(
    fit_records: Iterable[FitRecord], train_index: Iterable[Hashable]
) -> LeakageReport:
    """Flag each step fitted on rows outside the training split (scaler on all rows, etc.).

    >>> trace = [FitRecord.of("scaler", ["age"], range(100))]
    >>> split_after_engineering(trace, train_index=range(80)).clean
    False
    """
    train = frozenset(train_index)
    findings = []
    for record in fit_records:
        outside = record.fitted_on_index - train
        if outside:
            share = len(outside) / len(record.fitted_on_index)
            evidence = (
                f"step {record.step!r} was fitted on {len(outside)} rows outside the training "
                f"split ({share:.0%} of its fit rows), e.g. {_examples(outside)}"
            )
            fix = "split first, then fit every step on the training rows only (an sklearn Pipeline)"
            column = ", ".join(record.columns) or None
            findings.append(Finding("split_after_engineering", "error", column, evidence, fix))
    return LeakageReport(tuple(findings), ("split_after_engineering",))


def fit_record_from_statistics(
    step: str,
    fitted: Mapping[str, float],
    frame: pd.DataFrame,
    train_index: Iterable[Hashable],
    statistic: Statistic = "mean",
) -> FitRecord:
    """Rebuild a FitRecord from a fitted transformer's per-column statistics.

    The record says the step was fitted on all of ``frame`` when the statistics are closer to the
    whole frame's than to the training rows' (ties go to the training rows). ``std`` is the
    population one (ddof=0), as in sklearn's ``StandardScaler.scale_``.

    >>> frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 10.0]})
    >>> record = fit_record_from_statistics("scaler", {"x": 4.0}, frame, [0, 1, 2])  # mean of all
    >>> split_after_engineering([record], [0, 1, 2]).clean
    False
    """
    _require(frame, fitted)
    train = list(train_index)
    columns = list(fitted)
    data = frame[columns].astype("float64")

    def distance(rows: pd.DataFrame) -> float:
        value = rows.std(ddof=0) if statistic == "std" else getattr(rows, statistic)()
        return float(np.nanmax(np.abs(value.to_numpy() - np.array([fitted[c] for c in columns]))))

    whole = distance(data) < distance(data.loc[train])
    return FitRecord.of(step, columns, frame.index if whole else train)


def target_encoding_outside_folds(
    fit_records: Iterable[FitRecord], folds: Sequence[Fold] | None = None
) -> LeakageReport:
    """Flag target encoders that saw the targets of rows they encode.

    A record with ``transformed_index`` must not share rows with its fit rows; with ``folds``
    (``(train_ids, valid_ids)`` pairs), a record's fit rows must avoid the validation rows of its
    ``fold`` (of every fold when it has none).

    >>> enc = FitRecord.of("te", ["city"], range(100), transformed=range(100), uses_target=True)
    >>> target_encoding_outside_folds([enc]).clean
    False
    """
    folds = list(folds or [])
    findings: list[Finding] = []
    fix = "fit the encoder out of fold (sklearn TargetEncoder.fit_transform cross-fits)"
    for record in (r for r in fit_records if r.uses_target):
        if record.fold is not None and not 0 <= record.fold < len(folds):
            raise DataError(f"{record.step!r} names fold {record.fold}, but {len(folds)} given")
        seen = {"rows it then transformed": record.transformed_index or frozenset()}
        chosen = range(len(folds)) if record.fold is None else [record.fold]
        seen |= {f"validation rows of fold {k}": frozenset(folds[k][1]) for k in chosen}
        for what, rows in seen.items():
            if both := record.fitted_on_index & rows:
                evidence = f"step {record.step!r} was fitted on {len(both)} {what}"
                evidence += f", e.g. {_examples(both)}"
                column = ", ".join(record.columns) or None
                findings.append(
                    Finding("target_encoding_outside_folds", "error", column, evidence, fix)
                )
    return LeakageReport(tuple(findings), ("target_encoding_outside_folds",))


def _is_classification(y: pd.Series) -> bool:
    return bool(y.nunique() <= 2 or (y.nunique() <= 20 and not pd.api.types.is_float_dtype(y)))


def _oof_predictions(x: pd.Series, y: np.ndarray, classes: int) -> np.ndarray:
    """Out-of-fold predictions of ``y`` from ``x`` alone (class probabilities, or values)."""
    onehot = np.eye(classes)[y] if classes else y.astype("float64").reshape(-1, 1)
    out = np.zeros_like(onehot)
    numeric = pd.api.types.is_numeric_dtype(x) and not pd.api.types.is_bool_dtype(x)
    values = x.to_numpy(dtype="float64", na_value=np.nan).reshape(-1, 1) if numeric else None
    codes = pd.Series(pd.factorize(x, use_na_sentinel=False)[0])
    for fit, held in KFold(3, shuffle=True, random_state=0).split(onehot):
        if values is not None:
            tree = DecisionTreeClassifier if classes else DecisionTreeRegressor
            model = tree(max_depth=3, min_samples_leaf=5, random_state=0).fit(values[fit], y[fit])
            raw = model.predict_proba(values[held]) if classes else model.predict(values[held])
            predicted = np.zeros((len(held), onehot.shape[1]))
            predicted[:, model.classes_ if classes else [0]] = raw.reshape(len(held), -1)
            out[held] = predicted
        else:  # category means learned on the fit rows; unseen categories get the overall mean
            means = pd.DataFrame(onehot[fit]).groupby(codes.iloc[fit].to_numpy()).mean()
            seen = means.reindex(codes.iloc[held].to_numpy()).to_numpy()
            out[held] = np.where(np.isnan(seen), onehot[fit].mean(axis=0), seen)
    return out


def univariate_score(x: pd.Series, y: pd.Series) -> float:
    """How well ``x`` alone predicts ``y``: macro one-vs-rest ROC-AUC, or R² for a regression.

    The better of an out-of-fold depth-3 tree (category means for non-numeric ``x``) and, for a
    numeric ``x``, its rank AUC (oriented) or squared Pearson correlation.
    """
    classes = int(y.nunique()) if _is_classification(y) else 0
    target = pd.factorize(y)[0] if classes else y.to_numpy(dtype="float64")
    predicted = _oof_predictions(x, target, classes)
    numeric = pd.api.types.is_numeric_dtype(x) and not pd.api.types.is_bool_dtype(x)
    raw = x.to_numpy(dtype="float64", na_value=np.nan) if numeric else None
    if not classes:
        if not target.std() > 0:
            return 0.0
        r2 = float(r2_score(target, predicted[:, 0]))
        finite = raw is not None and bool(np.isfinite(raw).sum() > 2) and float(np.nanstd(raw)) > 0
        corr = float(pd.Series(raw).corr(pd.Series(target))) ** 2 if finite else 0.0
        return max(r2, corr)
    aucs = []
    for k in range(classes) if classes > 2 else [1]:
        auc = roc_auc(target == k, predicted[:, k]) or 0.5
        if raw is not None and np.isfinite(raw).all():
            rank = roc_auc(target == k, raw) or 0.5
            auc = max(auc, rank, 1 - rank)
        aucs.append(auc)
    return float(np.mean(aucs))


def target_derived_features(
    X: pd.DataFrame,
    y: pd.Series,
    auc_threshold: float = LEAK_AUC,
    r2_threshold: float = LEAK_R2,
    warn_auc: float = WARN_AUC,
    warn_r2: float = WARN_R2,
) -> LeakageReport:
    """Flag single features that predict ``y`` almost perfectly (see ``univariate_score``).

    >>> y = pd.Series([0, 1] * 50)
    >>> target_derived_features(pd.DataFrame({"copy": y * 2}), y).clean
    False
    """
    if y.isna().any() or len(y) != len(X) or len(y) < 6:
        raise DataError("y needs a target for each of X's rows (6 at least): drop unlabelled rows")
    regression = not _is_classification(y)
    error, warn, name = (
        (r2_threshold, warn_r2, "R²") if regression else (auc_threshold, warn_auc, "AUC")
    )
    findings = []
    fix = "drop it, or rebuild it from data known before the outcome"
    for column in X.columns:
        score = univariate_score(X[column], y)
        copy = None if regression else label_copy(X[column], y)
        if copy is not None and copy.agreement >= 1 - COPY_FLIPS and copy.kappa >= COPY_KAPPA:
            evidence = (
                f"{column!r} is a copy of the label with {1 - copy.agreement:.1%} of it flipped "
                f"(agreement {copy.agreement:.1%}, kappa {copy.kappa:.3f}, {name} {score:.4f})"
            )
            findings.append(Finding("target_derived_features", "error", str(column), evidence, fix))
        elif score >= warn:
            severity: Severity = "error" if score >= error else "warning"
            evidence = f"{column!r} alone predicts the target with {name} {score:.4f}"
            findings.append(
                Finding("target_derived_features", severity, str(column), evidence, fix)
            )
    if regression or y.nunique() == 2:
        target = y if regression else pd.Series(pd.factorize(y)[0], index=y.index)
        for pair in linear_pairs(X, target, r2_threshold):
            evidence = f"{pair.a!r} and {pair.b!r} together reproduce the target: {pair.formula}"
            evidence += f" (R² {pair.r2:.4f}; neither alone reaches {r2_threshold})"
            fix_pair = "drop one of them, or rebuild them from data known before the outcome"
            where = f"{pair.a}, {pair.b}"
            findings.append(Finding("target_derived_features", "error", where, evidence, fix_pair))
    return LeakageReport(tuple(findings), ("target_derived_features",))


def entity_overlap(train: pd.DataFrame, test: pd.DataFrame, entity_col: str) -> LeakageReport:
    """Flag entities (``entity_col`` values) found in both ``train`` and ``test``.

    >>> a, b = pd.DataFrame({"id": [1, 2]}), pd.DataFrame({"id": [2, 3]})
    >>> entity_overlap(a, b, "id").findings[0].evidence
    '1 entities of 2 in test (50.0%) are also in train (1 test rows), e.g. [2]'
    """
    _require(train, [entity_col])
    _require(test, [entity_col])
    shared = set(train[entity_col].dropna()) & set(test[entity_col].dropna())
    findings = []
    if shared:
        tested = test[entity_col].nunique()
        rows = int(test[entity_col].isin(shared).sum())
        evidence = (
            f"{len(shared)} entities of {tested} in test ({len(shared) / tested:.1%}) are also in "
            f"train ({rows} test rows), e.g. {_examples(shared)}"
        )
        fix = f"split by entity: sklearn GroupShuffleSplit / GroupKFold with groups={entity_col!r}"
        findings.append(Finding("entity_overlap", "error", entity_col, evidence, fix))
    return LeakageReport(tuple(findings), ("entity_overlap",))


@dataclass(frozen=True)
class LeakageInputs:
    """What ``run_all`` checks; each check runs when its inputs are present.

    ``data`` holds every row (features, target, times, entity); ``train_index`` names the
    training rows, the rest are test rows.

    >>> run_all(LeakageInputs(data=df, target="y", entity="customer"))  # doctest: +SKIP
    """

    data: pd.DataFrame | None = None
    target: str | None = None
    prediction_time: str | None = None
    feature_times: tuple[str, ...] = ()
    entity: str | None = None
    train_index: Collection[Hashable] | None = None
    fit_records: tuple[FitRecord, ...] = ()
    folds: tuple[Fold, ...] = ()


def run_all(inputs: LeakageInputs) -> LeakageReport:
    """Run every check ``inputs`` allow; ``checks`` of the result lists those that ran."""
    report, data, train = LeakageReport(), inputs.data, inputs.train_index
    if data is not None and inputs.prediction_time and inputs.feature_times:
        report += future_features(data, inputs.prediction_time, inputs.feature_times)
    if inputs.fit_records and train is not None:
        report += split_after_engineering(inputs.fit_records, train)
    if any(r.uses_target for r in inputs.fit_records):
        report += target_encoding_outside_folds(inputs.fit_records, inputs.folds)
    if data is not None and inputs.target:
        _require(data, [inputs.target])
        meta = {inputs.target, inputs.prediction_time, inputs.entity, *inputs.feature_times}
        features = data[[c for c in data.columns if c not in meta]]
        report += target_derived_features(features, data[inputs.target])
    if data is not None and inputs.entity and train is not None:
        in_train = data.index.isin(list(train))
        report += entity_overlap(data[in_train], data[~in_train], inputs.entity)
    return report
