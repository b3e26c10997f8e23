"""The leaderboard a terminal shows: a readable table that fits 100 columns, and the lines
that say which of its differences are beyond paired seed noise.

One task: rank and tie group, candidate, its template variant, mean ± std over seeds, and the
paired differences (± standard error) to the leader, LayerNorm and erf, the property marks.
Several tasks: rank, candidate, and each task's mean with its tie group.

Example:
    >>> import pandas as pd
    >>> from search.reports import leaderboard
    >>> trials = pd.DataFrame({"task": ["t"] * 6, "seed": [0, 1, 2] * 2,
    ...     "candidate_id": ["erf"] * 3 + ["layernorm"] * 3, "state": ["COMPLETE"] * 6,
    ...     "value": [0.93, 0.95, 0.94, 0.90, 0.92, 0.91], "diverged": [False] * 6,
    ...     "direction": ["maximize"] * 6, "metric": ["accuracy"] * 6})
    >>> board = leaderboard(trials)
    >>> print(separability(board))  # doctest: +NORMALIZE_WHITESPACE
    t: 2 tie groups among 2 ranked (paired t-tests over 3 seeds, FDR 5%); #1 erf is separable
      from every other.
"""

from __future__ import annotations

import math
import textwrap
from typing import Any

import numpy as np
import pandas as pd

from candidates import PROPERTIES

from ..driver import as_number
from ._paired import TIE_ALPHA

#: The widest line the default table prints.
TABLE_WIDTH = 100
_NAME_WIDTH = 16


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def verdict_mark(value: Any) -> str:
    """✓, ✗, or – where there is no verdict (a norm layer): numpy's and pandas' booleans too.

    >>> verdict_mark(True), verdict_mark(None)
    ('✓', '–')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return "✓" if value else "✗"
    return "–"


def metric_label(metric: str, direction: str) -> str:
    """A metric as a plot's axis names it: the metric and which way is better.

    >>> metric_label("accuracy", "maximize"), metric_label("mse", "minimize")
    ('accuracy (higher is better)', 'mse (lower is better)')
    """
    if direction not in ("maximize", "minimize"):
        raise ValueError(f"direction must be 'maximize' or 'minimize', but got {direction=}")
    return f"{metric} ({'higher' if direction == 'maximize' else 'lower'} is better)"


def display_name(row: pd.Series) -> str:
    """A leaderboard row's candidate as a person reads it: the catalog name where there is
    one, else its expression, else the run's key.

    >>> display_name(pd.Series({"candidate_id": "c7238dbc7a32", "name": None,
    ...                         "expression": "x/(1 + x**2)"}))
    'x/(1 + x**2)'
    """
    for column in ("name", "expression"):
        value = row.get(column)
        if isinstance(value, str) and value:
            return value
    return str(row["candidate_id"])


def variant(row: pd.Series) -> str:
    """The row's template in a few characters: ``s`` (a scalar shift), ``vec`` (a shift per
    channel) or ``–`` (none), then α0 (``s 0.5``); empty for a norm layer.

    >>> variant(pd.Series({"expression": "tanh(x)", "shift": "none", "alpha0": 0.5}))
    '– 0.5'
    """
    if not isinstance(row.get("expression"), str):
        return ""
    shift = {"scalar": "s", "vector": "vec", "none": "–"}.get(str(row.get("shift")), "?")
    alpha0 = as_number(row.get("alpha0"))
    return f"{shift} {alpha0:g}" if math.isfinite(alpha0) else shift


def decimals(board: pd.DataFrame) -> int:
    """Decimals enough to show the typical paired standard error with two significant
    digits (between 2 and 4): a table of accuracies and one of small losses both read well.

    >>> decimals(pd.DataFrame({"se_leader": [0.02, 0.03]})), decimals(pd.DataFrame())
    (3, 4)
    """
    if "se_leader" not in board:
        return 4
    errors = pd.to_numeric(board["se_leader"], errors="coerce")
    errors = errors[(errors > 0) & errors.notna()]
    if errors.empty:
        return 4
    return int(min(4, max(2, 1 - math.floor(math.log10(float(errors.median()))))))


def _value(mean: Any, std: Any, n: Any, diverged: Any, places: int) -> str:
    mean, std = as_number(mean), as_number(std)
    if not math.isfinite(mean):
        return f"diverged ×{int(diverged)}" if int(diverged) else "–"
    spread = f"±{std:.{places}f}" if int(n) > 1 and math.isfinite(std) else ""
    text = f"{mean:.{places}f}{spread}"
    return text + ("!" if int(diverged) else "")


def _difference(delta: Any, se: Any, places: int) -> str:
    delta, se = as_number(delta), as_number(se)
    if not math.isfinite(delta):
        return "–"
    return f"{delta:+.{places}f}" + (f"±{se:.{places}f}" if math.isfinite(se) else "")


def _marks(row: pd.Series) -> str:
    return "".join(verdict_mark(row.get(p)) for p in PROPERTIES)


def leaderboard_table(board: pd.DataFrame, *, top: int | None = None) -> str:
    """The (long) leaderboard as a plain-text table no wider than :data:`TABLE_WIDTH`.

    ``#``: the rank and the tie group (``3a``: third, and not separable from the leader);
    ``!`` after a mean: some of its seeds diverged (the mean is over the others). With
    ``top``, the baselines ranked below the cut follow the top rows (after a ``…`` line), so
    that what a search found is always shown beside them.
    """
    if board.empty:
        return "no finished trials yet\n"
    tasks = list(dict.fromkeys(board["task"]))
    ranks = list(dict.fromkeys(board["rank"]))
    if top is not None:
        below = board[~board["rank"].isin(ranks[:top]) & (board["kind"] == "baseline")]
        ranks = ranks[:top] + [r for r in ranks[top:] if r in set(below["rank"])]
        start = max(top, 1)  # a rank shown after one that is not the rank before it
        pairs = zip(ranks[start - 1 :], ranks[start:], strict=False)  # the first is longer
        gaps = {r for before, r in pairs if r != before + 1}
    else:
        gaps = set()
    places = decimals(board)
    rows: list[list[str]] = []
    if len(tasks) == 1:
        header = ["#", "candidate", "s α0", "mean±std", "Δ #1±se"]
        header += ["Δ LN±se", "Δ erf±se", "ZBCM"]
        predicted = "predicted_value" in board and board["predicted_value"].notna().any()
        if predicted:  # the predicted objective ranks by it: shown first after the name
            header.insert(3, "predicted (interval)")
        leader = board.loc[board["task_rank"] == 1, "candidate_id"]
        own = {"leader": leader.iloc[0] if len(leader) else None}
        for _, row in board[board["rank"].isin(ranks)].iterrows():
            if row["rank"] in gaps:
                rows.append(["…", *([""] * (len(header) - 1))])
            deltas = [
                "–"  # a row against itself
                if row["candidate_id"] == own.get(ref, ref)
                else _difference(row[f"delta_{ref}"], row[f"se_{ref}"], places)
                for ref in ("leader", "layernorm", "erf")
            ]
            cells = [
                f"{row['rank']}{row['group'] if isinstance(row['group'], str) else ''}",
                _short(display_name(row), _NAME_WIDTH),
                variant(row),
                _value(row["mean"], row["std"], row["n"], row["diverged"], places),
                *deltas,
                _marks(row),
            ]
            if predicted:
                cells.insert(3, predicted_text(row))
            rows.append(cells)
    else:
        header = ["#", "candidate", *tasks]
        for rank in ranks:
            if rank in gaps:
                rows.append(["…", *([""] * (len(header) - 1))])
            part = board[board["rank"] == rank].set_index("task")
            first = part.iloc[0]
            cells = [str(rank), _short(display_name(first), _NAME_WIDTH)]
            for t in tasks:
                if t not in part.index:
                    cells.append("–")
                    continue
                r = part.loc[t]
                group = r["group"] if isinstance(r["group"], str) else "–"
                cells.append(f"{_value(r['mean'], math.nan, 1, r['diverged'], places)} {group}")
            rows.append(cells)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    for r in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return "\n".join(_short(line, TABLE_WIDTH) for line in lines) + "\n"


def predicted_text(row: Any) -> str:
    """A leaderboard row's predicted full-scale value with its interval, or ``–``.

    >>> predicted_text({"predicted_value": 82.44, "predicted_low": 81.9, "predicted_high": 83.0,
    ...                 "predicted_category": "FINE"})
    '82.44 (81.90–83.00) FINE'
    """
    value = as_number(row.get("predicted_value"))
    if not math.isfinite(value):
        return "–"
    low, high = as_number(row.get("predicted_low")), as_number(row.get("predicted_high"))
    category = row.get("predicted_category")
    text = f"{value:.2f} ({low:.2f}–{high:.2f})"
    return text + (f" {category}" if isinstance(category, str) else "")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def rank_list(ranks: list[int]) -> str:
    """``#2–#4, #7``: ranks with runs of consecutive ones joined.

    >>> rank_list([2, 3, 4, 7])
    '#2–#4, #7'
    """
    parts: list[str] = []
    for rank in sorted(ranks):
        if parts and parts[-1].split("–")[-1] == f"#{rank - 1}":
            parts[-1] = parts[-1].split("–")[0] + f"–#{rank}"
        else:
            parts.append(f"#{rank}")
    return ", ".join(parts)


def separability(board: pd.DataFrame) -> str:
    """One line per task: how many tie groups the ranking holds, which ranks share the
    leader's, and the leader against erf (one planned paired t-test, so no correction)."""
    lines = []
    for task in dict.fromkeys(board["task"]):
        every = board[board["task"] == task]
        if len(every) > 1 and int(every["n"].max()) < 2:
            lines.append(
                f"{task}: one seed per candidate, so no difference can be tested "
                "(paired t-tests need --seeds 2 or more; 3 separate far more)."
            )
            continue
        rows = board[(board["task"] == task) & board["group"].notna()].sort_values("task_rank")
        untested = int(((board["task"] == task) & board["group"].isna() & (board["n"] > 0)).sum())
        if len(rows) < 2:
            lines.append(f"{task}: fewer than two candidates finished; nothing to separate.")
            continue
        seeds = int(rows["n"].max())
        groups = rows["group"].nunique()
        leader = display_name(rows.iloc[0])
        tied = rows[rows["group"] == rows["group"].iloc[0]]
        if len(tied) == 1:
            verdict = f"#1 {leader} is separable from every other"
        else:
            others = rank_list([int(r) for r in tied["task_rank"].iloc[1:]])
            verdict = f"#1 {leader} is not separable from {others}"
        aside = f"; {untested} could not be tested against #1" if untested else ""
        lines.append(
            f"{task}: {_plural(groups, 'tie group')} among {len(rows)} ranked (paired t-tests "
            f"over {_plural(seeds, 'seed')}, FDR {TIE_ALPHA:.0%}{aside}); "
            f"{verdict}.{_against_erf(board[board['task'] == task].sort_values('task_rank'))}"
        )
    return "\n".join(textwrap.fill(line, TABLE_WIDTH, subsequent_indent="  ") for line in lines)


def _against_erf(rows: pd.DataFrame) -> str:
    """The leader against erf (Derf), the function the paper found best."""
    erf = rows[rows["candidate_id"] == "erf"]
    if erf.empty or rows.iloc[0]["candidate_id"] == "erf":
        return ""
    row, places = erf.iloc[0], decimals(rows)
    gap, se = -as_number(row["delta_leader"]), as_number(row["se_leader"])
    text = f" #1 against erf: Δ {_difference(gap, se, places)}"
    p = as_number(row.get("p_leader"))
    if not math.isfinite(p):
        return text + " (cannot be tested: fewer than two seeds in common, or no spread)."
    beyond = "beyond" if p < TIE_ALPHA else "within"
    return f"{text}, p {p:.2g} (a paired t-test): {beyond} seed noise."
