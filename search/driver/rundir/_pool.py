"""The run's candidates as the driver reads them: one entry per key of ``candidates.parquet``,
and what a trial of each key trains (its function or norm layer, template, recipe and rung).

Example:
    >>> import pandas as pd
    >>> from search.driver import RunSettings
    >>> table = pd.DataFrame({
    ...     "candidate_id": ["layernorm", "c1"], "kind": ["baseline", "candidate"],
    ...     "name": ["LayerNorm", None], "expression": [None, "x/(1 + abs(x))"],
    ...     "shift": ["scalar", "scalar"], "alpha0": [0.5, 0.5]})
    >>> pool = RunPool(RunSettings(), table)
    >>> pool.keys, pool.baselines(), pool.names["c1"], pool.trained_as("layernorm")
    (['layernorm', 'c1'], ['layernorm'], 'x/(1 + abs(x))', 'layernorm')
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from candidates import guide_matrix
from evaluators import parse_recipe

from ._protocol import LADDER_HORIZON, PROTOCOL_RECIPES, rung_of
from ._settings import RunSettings


def trial_names(table: pd.DataFrame) -> dict[str, str]:
    """What optuna-dashboard shows beside each key of a run's table (indexed by candidate
    id): the catalog's name, else the expression (a norm layer: its key)."""
    return {
        str(k): next((t for t in (n, e) if isinstance(t, str) and t), str(k))
        for k, n, e in zip(table.index, table["name"], table["expression"], strict=True)
    }


class RunPool:
    """A run's candidate table, keyed, with what each key's trials are trained as."""

    def __init__(self, settings: RunSettings, table: pd.DataFrame) -> None:
        # A study's table may list one run under several rows (λ = 0 of several tables).
        self.table = table.drop_duplicates("candidate_id").set_index("candidate_id")
        self.keys = list(self.table.index)
        self.alpha0s = {str(k): float(v) for k, v in self.table["alpha0"].items()}
        # each function's shape descriptors, for the guided sampler
        guided = settings.sampler == "guided"
        shapes = guide_matrix(self.table.reset_index()) if guided else pd.DataFrame()
        self.features = {str(k): list(map(float, row)) for k, row in shapes.iterrows()}
        # a person's name for each key: the catalog's, else the expression (norm layers: the key)
        self.names = trial_names(self.table)
        # the lr-sweep protocol's rung of each run (see search.driver.apply_protocol)
        scales: dict[Any, Any] = dict(self.table.get("lr_scale", pd.Series(dtype=float)))
        self.lr_scales = {str(k): float(v) for k, v in scales.items() if pd.notna(v)}
        # the candidate each protocol rung is a rung of (a norm layer trains by that name)
        self.rung_of = rung_of(self.table.reset_index())
        # the ladder protocol's width of each run, and the changes it makes to every run
        widths: dict[Any, Any] = dict(self.table.get("width", pd.Series(dtype=float)))
        self.widths = {str(k): int(v) for k, v in widths.items() if pd.notna(v)}
        self.horizon = LADDER_HORIZON if settings.protocol == "ladder" else 1.0
        self.protocol_recipe = PROTOCOL_RECIPES.get(settings.protocol, ())
        self.recipe = tuple(parse_recipe(settings.recipe).items())

    def baselines(self) -> list[str]:
        """The keys of the baselines, which every study evaluates whatever its sampler picks."""
        return [k for k in self.keys if self.table.at[k, "kind"] == "baseline"]

    def expression(self, key: str) -> str | None:
        """The function of ``key`` (None for a norm layer)."""
        text = self.table.loc[key]["expression"]
        return text if isinstance(text, str) else None

    def trained_as(self, key: str) -> str:
        """What a worker trains for ``key``: a function goes by its expression in its row's
        template, a norm layer by its name (a protocol rung's: its candidate's)."""
        function = self.expression(key)
        return function if function is not None else self.rung_of.get(key, key)

    def shift(self, key: str) -> str:
        return str(self.table.loc[key]["shift"])

    def recipe_of(self, key: str) -> tuple[tuple[str, Any], ...]:
        """The recipe changes of ``key``'s trials: the run's, its protocol's, its width's."""
        width = (("width", self.widths[key]),) if key in self.widths else ()
        return self.recipe + self.protocol_recipe + width

    def lr_scale(self, key: str) -> float:
        return self.lr_scales.get(key, 1.0)
