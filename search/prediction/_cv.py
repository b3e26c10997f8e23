"""Cross-validated predictors: from a unit's features to its reference category and effect,
judged only on cells they were not fitted on.

Two predictors are fitted side by side: a classifier of the category (FAIL, DEGRADE, FINE) and
a regressor of the effect (the value less the reference cells' mean, on the cells that did not
fail). Each is chosen among a few regularised models (:data:`CLASSIFIERS`, :data:`REGRESSORS`)
by an inner cross-validation *inside* each outer training set, so that the choice itself never
sees the held-out cells.

- **leave-one-table-out** (the headline): each table of the reference held out in turn; no
  cell of it, no cell it is compared with, no cell compared with one of its cells, and no
  cell of another table that trains one of its functions (its twin: the same features, the
  same full-scale run) reaches the fit. A table holds one kind of change, so this asks
  whether what was learned transfers to a change the predictor never saw — what a search over
  new functions needs.
- **grouped by row**: each reference row (a base and a variant across its λ) held out in turn,
  in :data:`ROW_FOLDS` folds: the easier question of a new λ or base within known kinds.

Example:
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> x = pd.DataFrame({"zc:a": rng.normal(size=60)})
    >>> cats = pd.Series(np.where(x["zc:a"] < -0.5, "FAIL", "FINE"), index=x.index)
    >>> data = Dataset(x, cats, pd.Series(x["zc:a"]), pd.Series(["T1", "T2", "T3"] * 20),
    ...                pd.Series(range(60)).astype(str), {}, pd.Series(range(60)).astype(str))
    >>> out = cross_validate(data, folds="table")
    >>> round(float((out.categories == cats).mean()), 2) > 0.9
    True
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..calibration import cohen_kappa

#: The feature sets every prediction compares: descriptors of f alone, trained runs alone, both.
FEATURE_SETS = ("zero-cost", "trained", "all")


def parse_feature_sets(text: str) -> tuple[str, ...]:
    """``zero-cost,trained`` as feature sets, each known (with a did-you-mean) and once.

    >>> parse_feature_sets("all, zero-cost")
    ('all', 'zero-cost')
    """
    return parse_names(text, FEATURE_SETS, "feature set")


def parse_names(text: str, known: Sequence[str], what: str) -> tuple[str, ...]:
    """A comma-separated list of ``what`` names, each one of ``known`` (refused with a
    did-you-mean) and given once, at least one.

    >>> parse_names("b, a", ("a", "b"), "letter")
    ('b', 'a')
    """
    from candidates import UserError, suggest

    out: list[str] = []
    for name in (part.strip() for part in text.split(",") if part.strip()):
        if name not in known:
            raise UserError(
                f"not a {what}: {name!r}{suggest(name, list(known))} (known: {', '.join(known)})"
            )
        if name in out:
            raise UserError(f"{what} {name} given twice")
        out.append(name)
    if not out:
        raise UserError(f"give at least one {what} of {', '.join(known)}")
    return tuple(out)


#: Folds of the grouped-by-row cross-validation (and of the inner model choice).
ROW_FOLDS = 6
#: The coverage of a predicted value's interval (from cross-validated residuals).
VALUE_COVERAGE = 0.9


def _classifiers() -> dict[str, Callable[[], Any]]:
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    def logistic(c: float) -> Callable[[], Any]:
        return lambda: LogisticRegression(C=c, class_weight="balanced", max_iter=5000)

    return {
        "logistic C=0.1": logistic(0.1),
        "logistic C=1": logistic(1.0),
        "logistic C=10": logistic(10.0),
        "boosted trees": lambda: GradientBoostingClassifier(
            n_estimators=100, max_depth=2, subsample=0.8, random_state=0
        ),
    }


def _regressors() -> dict[str, Callable[[], Any]]:
    from sklearn.ensemble import GradientBoostingRegressor
    from sklearn.linear_model import Ridge

    def ridge(alpha: float) -> Callable[[], Any]:
        return lambda: Ridge(alpha=alpha)

    return {
        "ridge α=1": ridge(1.0),
        "ridge α=10": ridge(10.0),
        "ridge α=100": ridge(100.0),
        "boosted trees": lambda: GradientBoostingRegressor(
            n_estimators=100, max_depth=2, subsample=0.8, random_state=0
        ),
    }


#: The candidate models, by name (built on first use: scikit-learn is imported then).
CLASSIFIERS = ("logistic C=0.1", "logistic C=1", "logistic C=10", "boosted trees")
REGRESSORS = ("ridge α=1", "ridge α=10", "ridge α=100", "boosted trees")


def _pipeline(model: Any) -> Any:
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), model)


@dataclass
class Dataset:
    """Units (rows) with their features, reference category and effect, table and row; for
    each unit the units whose cells it is compared with, and the function it trains (both kept
    out of a fold with it)."""

    features: pd.DataFrame
    categories: pd.Series
    effects: pd.Series  # −inf where the reference training failed
    tables: pd.Series
    rows: pd.Series
    references: Mapping[str, Sequence[str]]
    # the function each unit trains (its sympy form, as a run's functions are found): units
    # of two tables may train the same one (T4's x is T2's x unclipped)
    functions: pd.Series

    def columns(self, feature_set: str) -> list[str]:
        """The feature columns of a feature set (``zc:`` names are the zero-cost ones)."""
        zero = [c for c in self.features.columns if str(c).startswith("zc:")]
        if feature_set == "zero-cost":
            return zero
        if feature_set == "trained":
            return [c for c in self.features.columns if c not in zero]
        return list(self.features.columns)


@dataclass
class Predictions:
    """Held-out predictions of every unit, and the models the folds chose."""

    categories: pd.Series
    effects: pd.Series
    chosen: list[tuple[str, str, str]] = field(default_factory=list)  # fold, classifier, regressor
    # units left unpredicted: their fold had nothing left to fit on (twins and references out)
    unpredicted: list[str] = field(default_factory=list)


class Fitted:
    """A fitted model and the feature columns it was fitted on (those measured for at least
    one training unit); a training set with one category, or no measured feature, gets the
    constant answer: that category, the mean effect."""

    def __init__(self, model: Any, columns: list[str], constant: Any = None) -> None:
        self.model, self.columns, self.constant = model, columns, constant

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        if self.model is None:
            return np.array([self.constant] * len(x))
        return np.asarray(self.model.predict(x[self.columns]))


def _measured(x: pd.DataFrame) -> list[str]:
    return [str(c) for c in x.columns if x[c].notna().any()]


@contextmanager
def _quiet_fit() -> Iterator[None]:
    """A model fitted without warnings and without scikit-learn's check of its
    hyper-parameters: they are this module's constants, and the check runs again for each of a
    boosted model's hundreds of trees (a tenth of a prediction's time)."""
    import sklearn

    with warnings.catch_warnings(), sklearn.config_context(skip_parameter_validation=True):
        warnings.simplefilter("ignore")
        yield


def _fit_classifier(name: str, x: pd.DataFrame, y: pd.Series) -> Fitted:
    classes = sorted(set(y))
    columns = _measured(x)
    if len(classes) == 1 or not columns:
        return Fitted(None, [], y.mode().iloc[0])
    model = _pipeline(_classifiers()[name]())
    with _quiet_fit():
        model.fit(x[columns], y)
    return Fitted(model, columns)


def _fit_regressor(name: str, x: pd.DataFrame, y: pd.Series) -> Fitted:
    columns = _measured(x)
    if not columns:
        return Fitted(None, [], float(y.mean()))
    model = _pipeline(_regressors()[name]())
    with _quiet_fit():
        model.fit(x[columns], y)
    return Fitted(model, columns)


def _folds(data: Dataset, index: pd.Index, folds: str) -> list[tuple[pd.Index, pd.Index]]:
    """(train, test) pairs over ``index``: by table, or by row in :data:`ROW_FOLDS` groups.
    A unit compared with a held-out unit, one a held-out unit is compared with, and one that
    trains a held-out unit's function leave the training side too: a twin would hand the fit
    the held-out cell's own features and outcome."""
    if folds == "table":
        groups = [index[data.tables[index] == t] for t in sorted(set(data.tables[index]))]
    else:
        rows = sorted(set(data.rows[index]))
        order = np.random.default_rng(0).permutation(len(rows))
        groups = [
            index[data.rows[index].isin([rows[i] for i in order[k::ROW_FOLDS]])]
            for k in range(min(ROW_FOLDS, len(rows)))
        ]
    out = []
    for test in groups:
        held = set(test)
        linked = {r for u in held for r in data.references.get(u, ())}
        linked |= {u for u in index if held & set(data.references.get(u, ()))}
        trained = set(data.functions[list(held)])
        linked |= {u for u in index if data.functions[u] in trained}
        train = index[[u not in held and u not in linked for u in index]]
        out.append((train, test))
    return out


def choose_models(
    data: Dataset, columns: list[str], train: pd.Index, folds: str
) -> tuple[str, str]:
    """The classifier with the best inner κ and the regressor with the least inner error,
    by the same kind of folds inside ``train`` only."""
    inner = _folds(data, train, folds)
    inner = [(a, b) for a, b in inner if len(a) and len(b)]
    if len(inner) < 2:
        return CLASSIFIERS[0], REGRESSORS[0]
    best_c, best_kappa = CLASSIFIERS[0], -math.inf
    for name in CLASSIFIERS:
        pairs: list[tuple[str, str]] = []
        for a, b in inner:
            model = _fit_classifier(name, data.features.loc[a, columns], data.categories[a])
            got = model.predict(data.features.loc[b, columns])
            pairs.extend(zip(data.categories[b], map(str, got), strict=True))
        kappa = cohen_kappa(pairs)
        if math.isfinite(kappa) and kappa > best_kappa + 1e-9:
            best_c, best_kappa = name, kappa
    best_r, best_error = REGRESSORS[0], math.inf
    for name in REGRESSORS:
        errors: list[float] = []
        for a, b in inner:
            a, b = _fine(data, a), _fine(data, b)
            if len(a) < 3 or not len(b):
                continue
            model = _fit_regressor(name, data.features.loc[a, columns], data.effects[a])
            got = model.predict(data.features.loc[b, columns])
            errors.extend((got - data.effects[b].to_numpy()) ** 2)
        error = float(np.mean(errors)) if errors else math.inf
        if error < best_error - 1e-12:
            best_r, best_error = name, error
    return best_c, best_r


def _fine(data: Dataset, index: pd.Index) -> pd.Index:
    """The units of ``index`` whose reference training did not fail (an effect to fit)."""
    return index[np.isfinite(data.effects[index].to_numpy(dtype=float))]


def cross_validate(data: Dataset, *, folds: str, feature_set: str = "all") -> Predictions:
    """Every unit's category and effect predicted by a model fitted without its fold (see the
    module docstring), the model chosen inside each outer training set."""
    columns = data.columns(feature_set)
    index = data.features.index
    categories = pd.Series(index=index, dtype=object)
    effects = pd.Series(index=index, dtype=float)
    out = Predictions(categories, effects)
    if not columns:
        return out
    for train, test in _folds(data, index, folds):
        if not len(train):
            out.unpredicted.extend(map(str, test))
            continue
        classifier, regressor = choose_models(data, columns, train, folds)
        fold = str(data.tables[test[0]]) if folds == "table" else f"rows {len(out.chosen) + 1}"
        out.chosen.append((fold, classifier, regressor))
        model = _fit_classifier(
            classifier, data.features.loc[train, columns], data.categories[train]
        )
        categories[test] = list(map(str, model.predict(data.features.loc[test, columns])))
        fine = _fine(data, train)
        if len(fine) >= 3:
            fitted = _fit_regressor(regressor, data.features.loc[fine, columns], data.effects[fine])
            effects[test] = fitted.predict(data.features.loc[test, columns])
    return out


def fit_final(
    data: Dataset, columns: list[str], classifier: str, regressor: str
) -> tuple[Fitted, Fitted]:
    """The chosen models fitted on every unit (for new candidates and importances)."""
    index = data.features.index
    model = _fit_classifier(classifier, data.features.loc[index, columns], data.categories[index])
    fine = _fine(data, index)
    fitted = _fit_regressor(regressor, data.features.loc[fine, columns], data.effects[fine])
    return model, fitted


def leaning(fitted: Fitted, *, top: int = 8) -> list[tuple[str, float]]:
    """What a fitted model leans on: standardised coefficients (mean |·| over classes) of a
    linear model, impurity importances of trees; the ``top`` largest."""
    if fitted.model is None:
        return []
    final = fitted.model.steps[-1][1]
    if hasattr(final, "coef_"):
        weights = np.abs(np.atleast_2d(final.coef_)).mean(axis=0)
    else:
        weights = np.asarray(final.feature_importances_)
    pairs = zip(fitted.columns, map(float, weights), strict=True)
    return sorted(pairs, key=lambda p: -p[1])[:top]


def shuffled(data: Dataset, seed: int = 0) -> Dataset:
    """The same units with their categories and effects permuted together: what a predictor
    scores when the features say nothing (κ near 0)."""
    order = np.random.default_rng(seed).permutation(len(data.categories))
    return Dataset(
        data.features,
        pd.Series(data.categories.to_numpy()[order], index=data.categories.index),
        pd.Series(data.effects.to_numpy()[order], index=data.effects.index),
        data.tables,
        data.rows,
        data.references,
        data.functions,
    )
