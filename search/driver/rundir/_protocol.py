"""Evaluation protocols: how every candidate of a run is trained and scored, the same for all.

- ``single``: one run per (candidate, seed) at the task's recipe, each function at its
  template's α0;
- ``gain-matched``: the same, with α0 chosen per function by one rule — the α0 at which
  f(α0·z), z ~ N(0, 1), has the spread of erf(0.5·z) — so that every function passes the same
  signal at initialisation. A short proxy cannot adapt α the way ~10⁵ full-scale steps do, and
  the initial gain otherwise decides much of a short comparison.

- ``lr-sweep``: every run (norm layers included) at each rate of a fixed geometric ladder,
  :data:`LR_LADDER` times the recipe's learning rate; each (candidate, seed, rate) is its own
  trial, keyed ``<candidate>@lr×<scale>`` with the candidate's own key in ``sweep_of``. Over the
  ladder a candidate has a best metric, a learning-rate sensitivity (Wortsman et al. 2023: the
  mean gap to the best, a diverged run counted at the untrained level) and a largest stable
  rate (:func:`sweep_summary`).

- ``ladder``: every run at each width of :data:`LADDER_WIDTHS` (or the run's own, at least
  three: :func:`ladder_widths`), for :data:`LADDER_HORIZON`
  times the recipe's steps under the warmup–stable–decay schedule, so that one run's
  recorded growth curve holds the shorter horizons too (its steps before the decay are
  points of shorter runs' stable phase); each (candidate, seed, width) is its own trial, keyed
  ``<candidate>@w<width>`` with the candidate's own key in ``ladder_of``. The fitted growth
  of each signal over width and steps extrapolates to a target scale
  (:mod:`search.prediction`).

- ``overfit``: the generalisation regime: every run on the same :data:`OVERFIT_SUBSET`
  examples of the task's training split for :data:`OVERFIT_EPOCHS` epochs, well past fitting
  them; a run's train loss in eval mode is then the loss on what it fitted (the paper's
  Table 13 measure) beside the held-out metric. Regularisation is the recipe's AdamW weight
  decay; none is added per task.

Norm layers (LayerNorm, RMSNorm) have no α: gain matching leaves them as they are.

Example:
    >>> import pandas as pd
    >>> table = pd.DataFrame({"expression": ["erf(x)", "x", None], "alpha0": [0.5, 0.5, 0.5]})
    >>> [round(a, 3) for a in apply_protocol(table, "gain-matched")["alpha0"]]
    [0.5, 0.465, 0.5]
    >>> table["candidate_id"], table["name"] = ["erf", "x", "layernorm"], ["erf", "x", "LN"]
    >>> list(apply_protocol(table, "lr-sweep")["candidate_id"][:4])
    ['erf@lr×0.25', 'x@lr×0.25', 'layernorm@lr×0.25', 'erf@lr×0.5']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

PROTOCOLS = ("single", "gain-matched", "lr-sweep", "ladder", "overfit")
#: What a leaderboard ranks by. ``final``: the metric (of an lr-sweep, at the recipe's own
#: rate); the others need the lr-sweep protocol: ``best-lr`` the best metric over the ladder,
#: ``lr-sensitivity`` the learning-rate sensitivity (lower first), ``pareto`` the Pareto front
#: of (best over the ladder, sensitivity) first, from an Optuna multi-objective study;
#: ``predicted`` the full-scale value a predictor fitted on a reference predicts (any other
#: protocol; see search.prediction.write_predicted).
OBJECTIVES = ("final", "best-lr", "lr-sensitivity", "pareto", "predicted")
#: The objectives that rank over an lr-sweep's ladder.
SWEEP_OBJECTIVES = ("best-lr", "lr-sensitivity", "pareto")
#: The lr-sweep protocol's rates, as multiples of the recipe's learning rate (factor 2 apart).
LR_LADDER = (0.25, 0.5, 1.0, 2.0, 4.0)
#: The ladder protocol's widths (a multiple of every built-in task's attention heads): at
#: least three, for a fit over width. A run may choose its own (``--widths``).
LADDER_WIDTHS = (16, 32, 64)
#: The fewest distinct widths a ladder has: a growth fit's fewest levels on an axis.
MIN_WIDTHS = 3
#: The ladder protocol's run length as a multiple of the recipe's steps: its curve spans the
#: horizons 0.5, 1 and 2 of the recipe.
LADDER_HORIZON = 2.0
#: The recipe changes the ladder protocol makes to every run (the user's recipe may not).
LADDER_RECIPE: tuple[tuple[str, Any], ...] = (("schedule", "wsd"),)
#: The overfit protocol's training subset (examples of the task's training split, the same
#: for every function and seed) and its epochs over it: far past the point where a norm
#: layer fits it.
OVERFIT_SUBSET = 512
OVERFIT_EPOCHS = 100
#: The recipe changes each protocol makes to every run, and the settings it owns besides
#: (the user's recipe may set none of them).
PROTOCOL_RECIPES: dict[str, tuple[tuple[str, Any], ...]] = {
    "ladder": LADDER_RECIPE,
    "overfit": (("train_subset", OVERFIT_SUBSET), ("epochs", OVERFIT_EPOCHS)),
}
PROTOCOL_OWNS: dict[str, tuple[str, ...]] = {"ladder": ("width",)}
#: The gain-matched protocol's target: this function's spread at the default α0.
MATCHED_TO = "erf(x)"


def check_protocol_recipe(protocol: str, recipe: Sequence[str]) -> None:
    """Refuse recipe changes to what ``protocol`` sets itself (:data:`PROTOCOL_RECIPES`).

    >>> check_protocol_recipe("overfit", ["epochs=3"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    candidates._errors.UserError: --protocol overfit sets epochs itself: leave it out of --recipe
    """
    from candidates import UserError
    from evaluators import parse_recipe

    owned = {k for k, _ in PROTOCOL_RECIPES.get(protocol, ())} | set(
        PROTOCOL_OWNS.get(protocol, ())
    )
    clash = owned & set(parse_recipe(recipe))
    if clash:
        raise UserError(
            f"--protocol {protocol} sets {', '.join(sorted(clash))} itself: leave "
            f"{'it' if len(clash) == 1 else 'them'} out of --recipe"
        )


def protocol_alpha0(expression: str, protocol: str) -> float | None:
    """The α0 the protocol gives the function ``expression``; None: its template's own.

    >>> round(protocol_alpha0("tanh(x)", "gain-matched"), 3), protocol_alpha0("x", "single")
    (0.586, None)
    """
    if protocol != "gain-matched":
        return None
    from candidates import DEFAULT_ALPHA0, matched_alpha0, spread_of

    return round(matched_alpha0(expression, target=spread_of(MATCHED_TO, DEFAULT_ALPHA0)), 6)


def ladder_widths(text: str | None) -> tuple[int, ...]:
    """The widths a ladder run trains at: ``text`` (``--widths``, integers joined by commas)
    in ascending order, or :data:`LADDER_WIDTHS` for None.

    >>> ladder_widths("128, 64,256"), ladder_widths(None)
    ((64, 128, 256), (16, 32, 64))
    >>> ladder_widths("64,128")
    Traceback (most recent call last):
    ...
    candidates._errors.UserError: --widths needs at least 3 widths to fit over, not '64,128'
    """
    if text is None:  # the default path imports nothing (evaluators brings torch)
        return LADDER_WIDTHS
    from candidates import UserError
    from evaluators import RECIPE_RANGES

    parts = [p.strip() for p in str(text).split(",")]
    if not all(p.isascii() and p.isdigit() and int(p) > 0 for p in parts):
        raise UserError(f"--widths takes positive integers joined by commas, not {text!r}")
    widths = tuple(sorted({int(RECIPE_RANGES["width"].parse(p, "--widths")) for p in parts}))
    if len(widths) != len(parts):
        raise UserError(f"--widths names a width twice: {text!r}")
    if len(widths) < MIN_WIDTHS:
        raise UserError(f"--widths needs at least {MIN_WIDTHS} widths to fit over, not {text!r}")
    return widths


def apply_protocol(
    table: pd.DataFrame, protocol: str, *, widths: Sequence[int] = LADDER_WIDTHS
) -> pd.DataFrame:
    """``table`` (a candidate table) with the protocol's per-function settings filled in
    (``widths``: the ladder's)."""
    if protocol == "gain-matched":
        table = table.copy()
        table["alpha0"] = [
            protocol_alpha0(e, protocol) if isinstance(e, str) else a
            for e, a in zip(table["expression"], table["alpha0"], strict=True)
        ]
    elif protocol == "lr-sweep":
        table = _rungs(table, "sweep_of", "lr_scale", LR_LADDER, "lr×")
    elif protocol == "ladder":
        # candidate by candidate, its widths together: a run stopped early has whole ladders
        table = _rungs(table, "ladder_of", "width", widths, "w", together=True)
    return table


def _rungs(
    table: pd.DataFrame,
    own: str,
    column: str,
    values: Sequence[float],
    tag: str,
    *,
    together: bool = False,
) -> pd.DataFrame:
    """A copy of every row per value of a protocol's ladder, keyed ``<candidate>@<tag><value>``
    with the candidate's key in ``own`` and the value in ``column``: rung by rung, or with
    ``together`` each candidate's rungs side by side."""
    import pandas as pd

    copies = []
    for value in values:
        rung = table.copy()
        rung[own] = table["candidate_id"]
        rung[column] = value
        rung["candidate_id"] = [f"{c}@{tag}{value:g}" for c in table["candidate_id"]]
        copies.append(rung)
    if together:
        return pd.concat(copies).sort_index(kind="stable").reset_index(drop=True)
    return pd.concat(copies, ignore_index=True)


def rung_of(table: pd.DataFrame) -> dict[str, str]:
    """Each protocol row's own candidate: the key it is a rung of (an lr-sweep's or a
    ladder's), for the rows that are rungs.

    >>> import pandas as pd
    >>> rung_of(apply_protocol(pd.DataFrame({"candidate_id": ["erf"]}), "ladder"))
    {'erf@w16': 'erf', 'erf@w32': 'erf', 'erf@w64': 'erf'}
    """
    out: dict[str, str] = {}
    for column in ("sweep_of", "ladder_of"):
        if column in table:
            out.update(
                {
                    str(k): str(v)
                    for k, v in zip(table["candidate_id"], table[column], strict=True)
                    if isinstance(v, str)
                }
            )
    return out


def sweep_summary(
    trials: pd.DataFrame, table: pd.DataFrame, *, untrained: float, direction: str
) -> pd.DataFrame:
    """Per (candidate, seed) of an lr-sweep run, over the ladder: ``best`` metric, the rate
    scale that reached it, ``sensitivity`` (the mean gap to the best, a diverged rung at
    ``untrained``; 0 for a candidate that does equally well at every rate), ``ladder_mean``
    (best − sensitivity, in the metric's direction) and ``largest_stable`` (the largest scale
    that did not diverge; nan if none). A (candidate, seed) lacking a rung is left out; a rung
    whose trial failed for good counts as diverged.

    ``trials`` is a run's trial table (finished trials of one task); ``table`` its candidates.
    """
    import math

    import pandas as pd

    sign = 1.0 if direction == "maximize" else -1.0
    rungs = table.drop_duplicates("candidate_id")
    sweep_of = {
        str(c): str(s) for c, s in zip(rungs["candidate_id"], rungs["sweep_of"], strict=True)
    }
    scale_of = {
        str(c): float(s) for c, s in zip(rungs["candidate_id"], rungs["lr_scale"], strict=True)
    }
    # A rung that failed for good (its worker died twice) counts as diverged, so that one lost
    # trial does not leave its candidate unranked for ever.
    retried = trials["retried"].fillna(False) if "retried" in trials else False
    lost = trials[(trials["state"] == "FAIL") & ~retried].assign(diverged=True, value=None)
    done = pd.concat([trials[trials["state"] == "COMPLETE"], lost]).sort_values("number")
    done = done.drop_duplicates(["candidate_id", "seed"])
    done = done[done["candidate_id"].isin(list(sweep_of))]
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for trial in done.to_dict("records"):
        at = (sweep_of[str(trial["candidate_id"])], int(trial["seed"]))
        groups.setdefault(at, []).append({str(k): v for k, v in trial.items()})
    rows = []
    for (candidate, seed), group in groups.items():
        if len(group) < len(LR_LADDER):
            continue
        scales = [scale_of[str(t["candidate_id"])] for t in group]
        diverged = [
            bool(t["diverged"]) or t["value"] is None or not math.isfinite(float(t["value"]))
            for t in group
        ]
        values = [
            untrained if bad else float(t["value"]) for bad, t in zip(diverged, group, strict=True)
        ]
        best_at = max(range(len(values)), key=lambda i: sign * values[i])
        best = values[best_at]
        sensitivity = sum(sign * (best - v) for v in values) / len(values)
        stable = [s for s, bad in zip(scales, diverged, strict=True) if not bad]
        rows.append(
            {
                "candidate_id": candidate,
                "seed": seed,
                "best": best,
                "best_scale": scales[best_at],
                "sensitivity": sensitivity,
                "ladder_mean": best - sign * sensitivity,
                "largest_stable": max(stable) if stable else math.nan,
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "candidate_id",
            "seed",
            "best",
            "best_scale",
            "sensitivity",
            "ladder_mean",
            "largest_stable",
        ],
    )
