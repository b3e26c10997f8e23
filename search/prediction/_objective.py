"""The predicted objective: a search ranked by the full-scale value a predictor predicts.

The predictor is fitted once, at the end of a run, on the reference's functions as a
prediction run (``--predictor``) trained them, under the run's own task, protocol, budget and
recipe; the run's candidates are predicted from the features of their own trials. Optuna still
samples on the proxy metric; only the ranking changes.

Example:
    $ derf-search predict --task mnist1d-deep --cells decisive --seeds 2
    $ derf-search run --grammar g.toml --task mnist1d-deep --shift none --seeds 2 \\
          --objective predicted --predictor results/prediction-mnist1d-deep-decisive
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from candidates import UserError

from ..calibration import PAPER_REFERENCE, read_reference
from ..driver import RunSettings, ladder_widths, read_candidates
from ..reports import PREDICTED_COLUMNS, PREDICTED_FILE
from ._features import function_keys
from ._predict import Prediction, predict
from ._report import write_prediction
from ._target import parse_target

#: The settings a predictor's run must share with the run it ranks: same features, same scale.
SHARED = ("tasks", "protocol", "widths", "budget", "recipe")


def check_predictor(settings: RunSettings) -> RunSettings:
    """The settings of ``settings.predictor``'s run, refused in one line unless it is a run
    directory trained like ``settings`` (:data:`SHARED`)."""
    path = Path(str(settings.predictor))
    if not (path / "config.toml").is_file():
        raise UserError(
            f"--predictor {path} is not a run directory: give a prediction run "
            "(derf-search predict --task T ...)"
        )
    theirs = RunSettings.read(path)
    for name in SHARED:
        mine, other = getattr(settings, name), getattr(theirs, name)
        if name == "recipe":
            mine, other = tuple(sorted(mine)), tuple(sorted(other))
        if name == "widths":  # as the runs read them: the default's, or in ascending order
            mine, other = ladder_widths(mine), ladder_widths(other)
        if mine != other:
            raise UserError(
                f"--predictor {path} was trained with {name} {_shown(other)}, this run with "
                f"{_shown(mine)}: the predictor learned features of its own {name}"
            )
    if theirs.target is not None:  # read at the end of the search: refused before it starts
        try:
            parse_target(theirs.target)
        except UserError as exc:
            raise UserError(f"{path / 'config.toml'}: recorded target: {exc}") from None
    return theirs


def _shown(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or "(none)"
    return str(value)


def write_predicted(run_dir: str | Path) -> Prediction:
    """Fit the predictor of a run with the predicted objective and write, into its run
    directory, the candidates' predictions (:data:`search.reports.PREDICTED_FILE`, which the
    leaderboard ranks by) and the predictor's own report (``prediction.md|json``,
    ``predictions.csv``, ``features.csv``)."""
    out = Path(run_dir)
    settings = RunSettings.read(out)
    predictor = check_predictor(settings)
    reference = read_reference(predictor.reference or PAPER_REFERENCE)
    table = read_candidates(out)
    # the rows trained as the reference's functions were (not a baseline with s, as Derf's)
    trained_plain = set(function_keys(table, settings.protocol).values())
    expressions = {
        str(key): text
        for key, text in zip(table["candidate_id"], table["expression"], strict=True)
        if isinstance(text, str) and str(key) in trained_plain
    }
    # the run's trials first: where both trained a function, the predictor's own record wins
    sources = [out, Path(str(settings.predictor))]
    # the scale the predictor's run asked for (every measure, as documented, whatever its own
    # report kept: the ranking should not hang on a choice made for one report)
    target = parse_target(predictor.target) if predictor.target else None
    result = predict(reference, sources=sources, candidates=expressions, target=target)
    rows = [
        {
            "candidate_id": row["name"],
            "predicted_category": row["predicted_category"],
            "predicted_value": row["predicted_value"],
            "predicted_low": row["low"],
            "predicted_high": row["high"],
        }
        for row in result.candidates
    ]
    frame = pd.DataFrame(rows, columns=list(PREDICTED_COLUMNS))
    write_prediction(out, result)
    frame.to_csv(out / PREDICTED_FILE, index=False)
    return result
