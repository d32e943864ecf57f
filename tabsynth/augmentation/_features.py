"""Feature matrices and classifiers shared by the quality filter and the evaluation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from ..exceptions import ConfigError

__all__ = ["MODELS", "FeatureEncoder", "fit_classifier", "is_categorical"]

#: ``--evaluate-model`` choices: a tuned booster (the honest default) and the weak-learner case.
MODELS = ("hgb", "logreg")
_MAX_NATIVE_CATEGORIES = 250  # HistGradientBoosting's limit for native categorical splits


def is_categorical(series: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


class FeatureEncoder:
    """Ordinal codes for categorical columns (unknown -1, missing -2), numbers as floats."""

    def __init__(self, reference: pd.DataFrame) -> None:
        self.columns = list(reference.columns)
        self.categorical = [c for c in self.columns if is_categorical(reference[c])]
        self._encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-2)
        if self.categorical:
            self._encoder.fit(reference[self.categorical].astype(str))
        sizes = [len(c) for c in self._encoder.categories_] if self.categorical else []
        self.native = [
            c in self.categorical and sizes[self.categorical.index(c)] < _MAX_NATIVE_CATEGORIES for c in self.columns
        ]

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        out = frame[self.columns].copy()
        if self.categorical:
            out[self.categorical] = self._encoder.transform(out[self.categorical].astype(str))
        return np.asarray(out.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float), dtype=float)


def _logreg(features: pd.DataFrame, class_weight: str | None) -> Any:
    categorical = [c for c in features.columns if is_categorical(features[c])]
    numeric = [c for c in features.columns if c not in categorical]
    encode = ColumnTransformer(
        [
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="(missing)"), OneHotEncoder(handle_unknown="ignore")
                ),
                categorical,
            ),
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        ]
    )
    return make_pipeline(encode, LogisticRegression(max_iter=2000, class_weight=class_weight))


class _Fitted:
    """A fitted classifier with one ``predict_proba`` over data frames."""

    def __init__(self, model: Any, encoder: FeatureEncoder | None, columns: list[str]) -> None:
        self.model, self.encoder, self.columns = model, encoder, columns

    def proba(self, frame: pd.DataFrame) -> np.ndarray:
        x = self.encoder.transform(frame) if self.encoder is not None else _as_logreg_input(frame[self.columns])
        return np.asarray(self.model.predict_proba(x)[:, 1], dtype=float)


def _as_logreg_input(features: pd.DataFrame) -> pd.DataFrame:
    out = features.copy()
    for c in out.columns:
        if is_categorical(out[c]):
            out[c] = out[c].astype(object).where(out[c].notna(), "(missing)").astype(str)
    return out


def fit_classifier(
    features: pd.DataFrame,
    y: np.ndarray,
    *,
    kind: str = "hgb",
    class_weight: str | None = None,
    seed: int = 0,
    max_iter: int = 100,
) -> _Fitted:
    """A classifier of ``kind`` ("hgb" or "logreg") fitted on ``features`` and the 0/1 labels ``y``."""
    if kind not in MODELS:
        raise ConfigError(f"Unknown model {kind!r} for the evaluation: choose one of {', '.join(MODELS)}.")
    if kind == "hgb":
        encoder = FeatureEncoder(features)
        model = HistGradientBoostingClassifier(
            random_state=seed, max_iter=max_iter, categorical_features=encoder.native, class_weight=class_weight
        )
        model.fit(encoder.transform(features), y)
        return _Fitted(model, encoder, list(features.columns))
    pipe = _logreg(features, class_weight).fit(_as_logreg_input(features), y)
    return _Fitted(pipe, None, list(features.columns))
