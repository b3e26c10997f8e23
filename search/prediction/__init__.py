"""Prediction: from what short runs and descriptors of f measure to what a full-scale training
would say, cross-validated on reference cells the predictor never saw.

A scale ladder's growth curves are fitted and extrapolated to a target scale
(:func:`fit_growth`, :func:`ladder_growth`); zero-cost descriptors, trained metrics and those
extrapolations are features (:func:`zero_cost_table`, :func:`run_features`); small regularised
models map them to a reference's category and effect, validated leave-one-table-out
(:func:`cross_validate`); `derf-search predict` writes the report and the predictions, and
`run --objective predicted` ranks a search by them (:func:`write_predicted`).

Names are imported on first use (see :mod:`search._lazy`).

Example:
    >>> from search.prediction import parse_target
    >>> parse_target("steps=1e5").steps
    100000.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes

if TYPE_CHECKING:
    from ._cv import (
        CLASSIFIERS,
        FEATURE_SETS,
        REGRESSORS,
        ROW_FOLDS,
        VALUE_COVERAGE,
        Dataset,
        Predictions,
        cross_validate,
        fit_final,
        leaning,
        parse_feature_sets,
        shuffled,
    )
    from ._features import (
        Unit,
        candidate_units,
        cell_units,
        function_keys,
        keep_measures,
        measure_names,
        parse_measures,
        run_features,
        sources_features,
        trained_functions,
        widest_rung,
        zero_cost_features,
        zero_cost_table,
    )
    from ._growth_fit import (
        FIT_COVERAGE,
        MIN_LEVELS,
        GrowthFit,
        fit_growth,
        ladder_growth,
        stable_steps,
    )
    from ._objective import SHARED, check_predictor, write_predicted
    from ._plots import PLOTTED, plot_ladder, plot_ladders
    from ._predict import (
        FOLDS,
        SHUFFLES,
        Figure,
        FoldScores,
        Prediction,
        dataset,
        growth_cells,
        predict,
    )
    from ._report import (
        PREDICTION_COLUMNS,
        PREDICTION_FILES,
        features_frame,
        prediction_json,
        prediction_markdown,
        predictions_frame,
        write_prediction,
    )
    from ._run import STUDY, prediction_table
    from ._target import AXES, Target, parse_target

_WHERE = {
    **dict.fromkeys(
        (
            "CLASSIFIERS",
            "FEATURE_SETS",
            "REGRESSORS",
            "ROW_FOLDS",
            "VALUE_COVERAGE",
            "Dataset",
            "Predictions",
            "cross_validate",
            "fit_final",
            "leaning",
            "parse_feature_sets",
            "shuffled",
        ),
        "._cv",
    ),
    **dict.fromkeys(
        (
            "Unit",
            "candidate_units",
            "cell_units",
            "function_keys",
            "keep_measures",
            "measure_names",
            "parse_measures",
            "run_features",
            "sources_features",
            "trained_functions",
            "widest_rung",
            "zero_cost_features",
            "zero_cost_table",
        ),
        "._features",
    ),
    **dict.fromkeys(
        ("FIT_COVERAGE", "MIN_LEVELS", "GrowthFit", "fit_growth", "ladder_growth", "stable_steps"),
        "._growth_fit",
    ),
    **dict.fromkeys(
        (
            "FOLDS",
            "SHUFFLES",
            "Figure",
            "FoldScores",
            "Prediction",
            "dataset",
            "growth_cells",
            "predict",
        ),
        "._predict",
    ),
    **dict.fromkeys(
        (
            "PREDICTION_COLUMNS",
            "PREDICTION_FILES",
            "features_frame",
            "prediction_json",
            "prediction_markdown",
            "predictions_frame",
            "write_prediction",
        ),
        "._report",
    ),
    **dict.fromkeys(("STUDY", "prediction_table"), "._run"),
    **dict.fromkeys(("SHARED", "check_predictor", "write_predicted"), "._objective"),
    **dict.fromkeys(("PLOTTED", "plot_ladder", "plot_ladders"), "._plots"),
    **dict.fromkeys(("AXES", "Target", "parse_target"), "._target"),
}

__all__ = [
    "AXES",
    "CLASSIFIERS",
    "FEATURE_SETS",
    "FIT_COVERAGE",
    "FOLDS",
    "MIN_LEVELS",
    "PLOTTED",
    "PREDICTION_COLUMNS",
    "PREDICTION_FILES",
    "REGRESSORS",
    "ROW_FOLDS",
    "SHARED",
    "SHUFFLES",
    "STUDY",
    "VALUE_COVERAGE",
    "Dataset",
    "Figure",
    "FoldScores",
    "GrowthFit",
    "Prediction",
    "Predictions",
    "Target",
    "Unit",
    "candidate_units",
    "cell_units",
    "check_predictor",
    "cross_validate",
    "dataset",
    "features_frame",
    "fit_final",
    "fit_growth",
    "function_keys",
    "growth_cells",
    "keep_measures",
    "ladder_growth",
    "leaning",
    "measure_names",
    "parse_feature_sets",
    "parse_measures",
    "parse_target",
    "plot_ladder",
    "plot_ladders",
    "predict",
    "prediction_json",
    "prediction_markdown",
    "prediction_table",
    "predictions_frame",
    "run_features",
    "shuffled",
    "sources_features",
    "stable_steps",
    "trained_functions",
    "widest_rung",
    "write_predicted",
    "write_prediction",
    "zero_cost_features",
    "zero_cost_table",
]

__getattr__ = lazy_attributes(__name__, _WHERE)
