"""The feature pipeline: fitted on the train split only, applied unchanged to valid and test.

    fit = fit_features(frame, split.train, y, config.features, temporal=names, seed=0)
    x_train = fit.train                          # target encodings out-of-fold
    x_test = fit.pipeline.transform(frame.loc[split.test])
    fit.records                                  # one FitRecord per fitted step

Numeric columns get ``log`` (sign(x)·log1p(|x|), nothing fitted), ``standardize`` (train mean and
std) and quantile ``bin`` (train edges). Categorical columns get one-hot (train categories, unseen
ones all-zero) or target encoding: each train row is encoded by a mapping fitted on the *other*
K-1 folds (out-of-fold, so a row never sees its own label), and valid/test rows by the mapping
fitted on the whole train split. Imputing (`TrainConfig.impute`), a missing number takes the
train median before the ops, a missing category the most frequent train one, and a column with
gaps in train gets a 0/1 ``COLUMN__missing`` feature (after all others). Every fit is traced as
a `FitRecord` naming the rows it saw, so the leakage checks can prove that nothing was fitted on
valid or test rows.

The fitted state is a pydantic model that round-trips through JSON (``features.json`` beside the
model), so serving can rebuild the same features without unpickling anything.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict
from sklearn.model_selection import KFold

from ragline.mltrack.errors import DataError
from ragline.mltrack.tabular.config import CategoricalFeature, FeatureSpec, Impute, NumericFeature

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
MISSING = "(missing)"
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.=+-]")  # LightGBM/XGBoost refuse []{}:,"< in names


@dataclass(frozen=True, slots=True)
class FitRecord:
    """One fitted step: the columns it read, the rows (frame index labels) it was fitted on and,
    where known, the rows it transformed; ``uses_target`` marks target encoders and ``fold`` the
    0-based out-of-fold fold a per-fold fit belongs to (the fields of
    `ragline.mltrack.data.leakage`'s record).

    Example:
        >>> r = FitRecord("numeric", ("age",), np.array([0, 1, 2]))
        >>> r.step, len(r.fitted_on_index), r.uses_target
        ('numeric', 3, False)
    """

    step: str
    columns: tuple[str, ...]
    fitted_on_index: IntArray
    transformed_index: IntArray | None = None
    uses_target: bool = False
    fold: int | None = None


class _State(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OpState(_State):
    """One numeric op with its fitted values (standardize: mean, std; bin: edges)."""

    op: Literal["log", "standardize", "bin"]
    values: tuple[float, ...] = ()


class _Step(_State):
    """A raw input ``column``; ``indicator``: its 0/1 missing-value feature (gaps in train)."""

    column: str
    indicator: str | None = None


class NumericStep(_Step):
    """A numeric input column and the ops that turn it into feature ``name``; ``fill`` (the
    train median) replaces missing values first, when imputing."""

    name: str
    ops: tuple[OpState, ...] = ()
    fill: float | None = None


class OneHotStep(_Step):
    """One 0/1 feature per kept train category; ``fill`` replaces a missing category."""

    categories: tuple[str, ...]
    names: tuple[str, ...]
    fill: str | None = None


class TargetStep(_Step):
    """Smoothed mean target per category, fitted on the whole train split; unseen -> prior."""

    name: str
    prior: float
    mapping: dict[str, float]
    fill: str | None = None


class FeaturePipeline(_State):
    """Fitted feature state; ``transform`` maps raw rows to the model's float64 features.

    Example:
        >>> p = FeaturePipeline(numeric=(NumericStep(column="x", name="x"),))
        >>> p.transform(pd.DataFrame({"x": [1, 2]}))["x"].tolist()
        [1.0, 2.0]
    """

    numeric: tuple[NumericStep, ...] = ()
    onehot: tuple[OneHotStep, ...] = ()
    target: tuple[TargetStep, ...] = ()

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Output columns, in the order the model sees them."""
        onehot = [n for step in self.onehot for n in step.names]
        flags = [s.indicator for s in self._steps if s.indicator]
        return (*(s.name for s in self.numeric), *onehot, *(s.name for s in self.target), *flags)

    @property
    def _steps(self) -> tuple[_Step, ...]:
        return (*self.numeric, *self.onehot, *self.target)

    @property
    def input_columns(self) -> tuple[str, ...]:
        """Raw columns ``transform`` reads."""
        return tuple(dict.fromkeys(s.column for s in self._steps))

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The features of ``frame``'s rows (raw columns, temporal ones already added)."""
        columns = self._columns(frame)
        return pd.DataFrame(columns, index=frame.index, columns=list(self.feature_names))

    def matrix(self, frame: pd.DataFrame, order: Sequence[str] | None = None) -> FloatArray:
        """The same features as one float64 matrix, columns in `order` (default
        `feature_names`): what a model reads, without building a DataFrame first. Serving's
        small requests take this path; the values are `transform`'s, computed by one code."""
        columns = self._columns(frame)
        names = list(order) if order is not None else list(self.feature_names)
        unknown = [n for n in names if n not in columns]
        if unknown:
            raise DataError(f"features {unknown[:10]} are not produced by this pipeline")
        if not names:
            return np.empty((len(frame), 0), dtype=np.float64)
        return np.column_stack([columns[n] for n in names]).astype(np.float64, copy=False)

    def _columns(self, frame: pd.DataFrame) -> dict[str, FloatArray]:
        missing = [c for c in self.input_columns if c not in frame.columns]
        if missing:
            raise DataError(f"columns {missing} are missing; the model was trained with them")
        out: dict[str, FloatArray] = {}
        for step in self._steps:
            if step.indicator:
                out[step.indicator] = frame[step.column].isna().to_numpy(dtype=np.float64)
        for num in self.numeric:
            x = _floats(frame[num.column], num.column)
            out[num.name] = _apply_ops(_filled(x, num.fill), num.ops)
        for hot in self.onehot:
            cats = as_categories(frame[hot.column], hot.fill)
            for category, name in zip(hot.categories, hot.names, strict=True):
                out[name] = (cats == category).astype(np.float64)
        for te in self.target:
            out[te.name] = _encode(as_categories(frame[te.column], te.fill), te.mapping, te.prior)
        return out


@dataclass(frozen=True, slots=True)
class FeatureFit:
    """The fitted pipeline, the train features (target encodings out-of-fold) and the trace."""

    pipeline: FeaturePipeline
    train: pd.DataFrame
    records: tuple[FitRecord, ...]


def _floats(series: pd.Series, column: str) -> FloatArray:
    if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)):
        raise DataError(
            f"features.numeric: column {column!r} is {series.dtype}, not numeric; "
            "list it under features.categorical instead"
        )
    return np.asarray(series.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)


def as_categories(series: pd.Series, fill: str | None = None) -> npt.NDArray[np.str_]:
    """Values as strings, missing ones as ``fill`` (imputing) or else ``"(missing)"``."""
    # via object: pandas 3 cuts a str column with gaps to one character in to_numpy(dtype=str)
    text = series.astype(str).to_numpy(dtype=object).astype(str)
    return np.where(series.isna().to_numpy(), MISSING if fill is None else fill, text)


def _filled(x: FloatArray, fill: float | None) -> FloatArray:
    return x if fill is None else np.where(np.isnan(x), fill, x)


def _apply_ops(x: FloatArray, ops: Sequence[OpState]) -> FloatArray:
    for op in ops:
        if op.op == "log":
            x = np.sign(x) * np.log1p(np.abs(x))
        elif op.op == "standardize":
            x = (x - op.values[0]) / op.values[1]
        else:
            binned = np.searchsorted(np.asarray(op.values), x, side="right").astype(np.float64)
            x = np.where(np.isnan(x), np.nan, binned)
    return x


def _fit_ops(x: FloatArray, spec: NumericFeature) -> tuple[OpState, ...]:
    ops: list[OpState] = []
    for op in spec.ops:
        if op == "log":
            ops.append(OpState(op="log"))
        elif op == "standardize":
            mean, std = float(np.nanmean(x)), float(np.nanstd(x))
            ops.append(OpState(op="standardize", values=(mean, std if std > 0 else 1.0)))
        else:
            qs = np.nanquantile(x, np.linspace(0.0, 1.0, op.bin + 1)[1:-1])
            ops.append(OpState(op="bin", values=tuple(float(q) for q in np.unique(qs))))
        x = _apply_ops(x, ops[-1:])
    return tuple(ops)


def _fit_mapping(cats: npt.NDArray[np.str_], y: FloatArray, smoothing: float) -> TargetStep:
    prior = float(y.mean())
    stats = pd.DataFrame({"c": cats, "y": y}).groupby("c")["y"].agg(["sum", "count"])
    encoded = (stats["sum"] + smoothing * prior) / (stats["count"] + smoothing)
    mapping = {str(k): float(v) for k, v in encoded.items()}
    return TargetStep(column="", name="", prior=prior, mapping=mapping)


def _encode(cats: npt.NDArray[np.str_], mapping: dict[str, float], prior: float) -> FloatArray:
    mapped = pd.Series(cats).map(mapping).to_numpy(dtype=np.float64, na_value=np.nan)
    return np.where(np.isnan(mapped), prior, mapped)


class _Names:
    """Sanitised, unique output names."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def take(self, raw: str) -> str:
        base = _UNSAFE_NAME.sub("_", raw)
        name, i = base, 2
        while name in self.used:
            name, i = f"{base}_{i}", i + 1
        self.used.add(name)
        return name


def _expand(patterns: Sequence[str], columns: Sequence[str], where: str) -> list[str]:
    out: list[str] = []
    for pattern in patterns:
        hits = [c for c in columns if fnmatchcase(c, pattern)]
        if not hits:
            raise DataError(
                f"{where}: no column matches {pattern!r}; the data has {list(columns)[:20]}"
            )
        out.extend(h for h in hits if h not in out)
    return out


class _Fitter:
    """Fits every step on ``train_rows`` of ``frame``; collects states, train columns, records."""

    def __init__(
        self, frame: pd.DataFrame, train_index: IntArray, y: FloatArray, seed: int, impute: Impute
    ):
        self.train = frame.loc[train_index]
        self.index, self.y, self.seed, self.impute = train_index, y, seed, impute
        self.names = _Names()
        self.records: list[FitRecord] = []
        self.columns: dict[str, FloatArray] = {}

    def _indicator(self, column: str, gaps: npt.NDArray[np.bool_]) -> str | None:
        if not gaps.any():
            return None
        name = self.names.take(f"{column}__missing")
        self.columns[name] = gaps.astype(np.float64)
        return name

    def numeric(self, spec: NumericFeature, column: str) -> NumericStep:
        x = _floats(self.train[column], column)
        imputing = self.impute != "off"
        if (spec.ops or imputing) and np.isnan(x).all():
            raise DataError(f"features.numeric: {column!r} has no values in the train split")
        fill = float(np.nanmedian(x)) if imputing else None
        name, gaps = self.names.take(column), np.isnan(x)
        x = _filled(x, fill)
        step = NumericStep(column=column, name=name, ops=_fit_ops(x, spec), fill=fill)
        if any(op.op != "log" for op in step.ops):
            self.records.append(FitRecord(f"numeric:{column}", (column,), self.index))
        self.columns[step.name] = _apply_ops(x, step.ops)
        if imputing:
            self.records.append(FitRecord(f"impute:{column}", (column,), self.index))
            step = step.model_copy(update={"indicator": self._indicator(column, gaps)})
        return step

    def categories(self, column: str) -> tuple[npt.NDArray[np.str_], dict[str, str | None]]:
        """Train categories (imputed when imputing all), and the step's fill and indicator."""
        series = self.train[column]
        if self.impute != "all":
            return as_categories(series), {}
        ranked = [c for c in _ranked(as_categories(series)) if c != MISSING]
        if not ranked:
            raise DataError(f"features.categorical: {column!r} has no values in the train split")
        self.records.append(FitRecord(f"impute:{column}", (column,), self.index))
        indicator = self._indicator(column, series.isna().to_numpy())
        return as_categories(series, ranked[0]), {"fill": ranked[0], "indicator": indicator}

    def onehot(self, spec: CategoricalFeature, column: str) -> OneHotStep:
        cats, imputed = self.categories(column)
        kept = tuple(sorted(_ranked(cats)[: spec.max_categories]))
        names = tuple(self.names.take(f"{column}={c}") for c in kept)
        for category, name in zip(kept, names, strict=True):
            self.columns[name] = (cats == category).astype(np.float64)
        self.records.append(FitRecord(f"onehot:{column}", (column,), self.index))
        step = OneHotStep(column=column, categories=kept, names=names)
        return step.model_copy(update=imputed)

    def target(self, spec: CategoricalFeature, column: str) -> TargetStep:
        cats, imputed = self.categories(column)
        if spec.folds > len(cats):
            raise DataError(f"features.categorical: folds={spec.folds} > {len(cats)} train rows")
        oof = np.empty(len(cats), dtype=np.float64)
        folds = KFold(n_splits=spec.folds, shuffle=True, random_state=self.seed)
        for k, (fit_pos, held_pos) in enumerate(folds.split(cats)):
            fold = _fit_mapping(cats[fit_pos], self.y[fit_pos], spec.smoothing)
            oof[held_pos] = _encode(cats[held_pos], fold.mapping, fold.prior)
            rows, held = self.index[fit_pos], self.index[held_pos]
            self.records.append(
                FitRecord(f"target:{column}:fold{k}", (column,), rows, held, True, k)
            )
        full = _fit_mapping(cats, self.y, spec.smoothing)
        name = self.names.take(f"{column}__te")
        # applied to rows outside train only; `train` fills transformed_index once it knows them
        self.records.append(FitRecord(f"target:{column}", (column,), self.index, None, True))
        self.columns[name] = oof
        return full.model_copy(update={"column": column, "name": name} | imputed)


def _ranked(cats: npt.NDArray[np.str_]) -> list[str]:
    """Categories, most frequent first (ties by name)."""
    counts = pd.Series(cats).value_counts()
    return [str(k) for k, _ in sorted(counts.items(), key=lambda kv: (-int(kv[1]), str(kv[0])))]


def fit_features(
    frame: pd.DataFrame,
    train_index: IntArray,
    y_train: npt.ArrayLike,
    spec: FeatureSpec,
    *,
    temporal: Sequence[str] = (),
    seed: int = 0,
    impute: Impute = "off",
) -> FeatureFit:
    """Fit ``spec`` on the rows ``train_index`` of ``frame`` (``y_train``: their 0/1 or numeric
    targets, for target encoding); ``temporal`` columns pass through as numeric features.
    ``impute``: "numeric" (medians), "all" (and most frequent categories) or "off".

    Example:
        >>> frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 9.0], "c": ["a", "b", "a", "b"]})
        >>> spec = FeatureSpec(numeric=[NumericFeature(columns=["x"], ops=["standardize"])])
        >>> fit = fit_features(frame, np.array([0, 1, 2]), [0, 1, 0], spec)
        >>> fit.pipeline.transform(frame.loc[[3]])["x"].round(2).tolist()
        [8.57]
    """
    y = np.asarray(y_train, dtype=np.float64)
    if len(y) != len(train_index):
        raise DataError(f"{len(y)} targets for {len(train_index)} train rows; pass one per row")
    fitter = _Fitter(frame, np.asarray(train_index, dtype=np.int64), y, seed, impute)
    columns = [str(c) for c in frame.columns]
    numeric: list[NumericStep] = []
    for num in spec.numeric:
        numeric += [
            fitter.numeric(num, c) for c in _expand(num.columns, columns, "features.numeric")
        ]
    numeric += [fitter.numeric(NumericFeature(columns=[c]), c) for c in temporal]
    onehot: list[OneHotStep] = []
    target: list[TargetStep] = []
    for cat in spec.categorical:
        for column in _expand(cat.columns, columns, "features.categorical"):
            if cat.encoding == "onehot":
                onehot.append(fitter.onehot(cat, column))
            else:
                target.append(fitter.target(cat, column))
    pipeline = FeaturePipeline(numeric=tuple(numeric), onehot=tuple(onehot), target=tuple(target))
    used = [s.column for s in numeric] + [s.column for s in onehot] + [s.column for s in target]
    twice = sorted({c for c in used if used.count(c) > 1})
    if twice:
        raise DataError(f"features: columns {twice} are listed twice; keep one entry each")
    train = pd.DataFrame(fitter.columns, index=fitter.train.index)[list(pipeline.feature_names)]
    return FeatureFit(pipeline, train, tuple(fitter.records))
