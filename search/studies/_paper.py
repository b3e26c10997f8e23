"""Built-in studies: the Derf paper's property ablations and its function-search table, as
candidate lists for the same Optuna/Ray machinery as `derf-search run`.

Each row of a study is one experiment: a function, the group it belongs to, the value of λ it
was built with (if any) and the template's shift (``none`` in the property study: y = γ ⊙
f(αx) + β). Rows are keyed by their label, not by candidate id: ``clip(x, -2, 2)`` and
``clip(x, -1, 1)`` are one candidate modulo the template, but not one experiment (α0 and γ
start elsewhere), and the study asks for both.

Example:
    >>> rows = study_rows("properties")
    >>> [r.key for r in rows if r.group == "centre sensitivity" and r.function == "erf"][:2]
    ['centre:erf:0', 'centre:erf:0.1']
    >>> len({r.key for r in rows}) == len(rows)
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from candidates import (
    DEFAULT_ALPHA0,
    RUN_BASELINES,
    Candidate,
    UserError,
    as_candidate_table,
    candidates_table,
    check_candidate,
    get_entry,
    suggest,
)

STUDIES = ("properties", "catalog")

# (name, expression in x) of the paper's base functions for the property study
BASES = (("erf", "erf(x)"), ("tanh", "tanh(x)"), ("arctan", "2/pi*atan(x)"))
SHIFTS = (-2, -1, -0.5, -0.1, 0, 0.1, 0.5, 1, 2)
CLIPS: tuple[float | None, ...] = (None, 0.5, 0.8, 1, 2, 3, 5)
UNBOUNDED = (("asinh", "asinh(x)"), ("signlog", "sign(x)*log(abs(x) + 1)"), ("x", "x"))
MIXES = (0, 0.01, 0.1, 0.5)
FLATS = (0, 0.1, 0.5, 1, 2, 3)
#: ∫|tanh(εx) − erf(x)| dx is smallest at ε ≈ 1.205: DyT's best imitation of erf.
TANH_LIKE_ERF = 1.205


@dataclass(frozen=True)
class StudyRow:
    """One experiment of a study."""

    key: str  # unique within the study: the candidate key of the run
    group: str  # the table it belongs in
    function: str  # the row label in that table
    lam: float | None  # the column (λ), or None for tables without λ
    expression: str | None  # None for LayerNorm / RMSNorm
    shift: str  # scalar, vector or none
    baseline: bool = False
    variant: str = ""  # told apart in plots and the leaderboard: "no s", "per-channel s"
    alpha0: float = DEFAULT_ALPHA0


def _num(value: float) -> str:
    return f"{value:g}"


def _properties() -> list[StudyRow]:
    rows: list[StudyRow] = []
    for name, f in BASES:
        for lam in SHIFTS:
            inner = f.replace("x", f"(x + {_num(lam)})") if lam else f
            rows.append(
                StudyRow(
                    f"hshift:{name}:{_num(lam)}",
                    "zero-centredness: f(αx + λ)",
                    name,
                    lam,
                    inner,
                    "none",
                )
            )
            outer = f"{f} + {_num(lam)}" if lam else f
            rows.append(
                StudyRow(
                    f"vshift:{name}:{_num(lam)}",
                    "zero-centredness: f(αx) + λ",
                    name,
                    lam,
                    outer,
                    "none",
                )
            )
    for name, f in UNBOUNDED:
        clip: float | None
        for clip in CLIPS:
            expr = f if clip is None else f"clip({f}, -{_num(clip)}, {_num(clip)})"
            key = f"clip:{name}:{'none' if clip is None else _num(clip)}"
            rows.append(StudyRow(key, "boundedness: clip(f, −λ, λ)", name, clip, expr, "none"))
    for name, f in (*BASES, ("isru", "x/sqrt(x**2 + 1)")):
        for lam in MIXES:
            expr = f if lam == 0 else f"{_num(1 - lam)}*{f} + {_num(lam)}*x"
            rows.append(
                StudyRow(
                    f"mix:{name}:{_num(lam)}", "boundedness: (1−λ)·f + λ·x", name, lam, expr, "none"
                )
            )
    growth = (
        ("sign(x)·ln(|x|+1)", "sign(x)*log(abs(x) + 1)"),
        ("asinh(x)", "asinh(x)"),
        ("sign(x)·ln(x²+1)", "sign(x)*log(x**2 + 1)"),
        ("sign(x)·|x|^(2/3)", "sign(x)*abs(x)**(2/3)"),
        ("x", "x"),
    )
    for label, expr in growth:
        rows.append(
            StudyRow(f"growth:{label}", "boundedness: unclipped growth", label, None, expr, "none")
        )
    for name, f in BASES:
        for lam in FLATS:
            if lam == 0:
                expr = f
            else:
                right = f.replace("x", f"(x - {_num(lam)})")
                left = f.replace("x", f"(x + {_num(lam)})")
                # 0 on [-λ, λ], the branches shifted outward so f stays continuous (the bases
                # are odd and increasing, so max/min pick the branch on each side)
                expr = f"max({right}, 0) + min({left}, 0)"
            rows.append(
                StudyRow(
                    f"centre:{name}:{_num(lam)}", "centre sensitivity", name, lam, expr, "none"
                )
            )
    for name, f in BASES:
        rows.append(StudyRow(f"mono:{name}", "monotonicity", name, None, f, "none"))
        rows.append(StudyRow(f"mono:-{name}", "monotonicity", f"−{name}", None, f"-{f}", "none"))
    for label, expr in (
        ("sin(x)", "sin(x)"),
        ("2x/(1+x²)", "2*x/(1 + x**2)"),
        ("2.72·x·e^(−|x|)", "2.72*x*exp(-abs(x))"),
    ):
        rows.append(StudyRow(f"mono:{label}", "monotonicity", label, None, expr, "none"))
    return rows


def _baseline(name: str, group: str) -> StudyRow:
    """A baseline row in its catalog entry's template (DyT: tanh without s)."""
    entry = get_entry(name)
    return StudyRow(
        name, group, name, None, entry.expression, entry.shift, True, alpha0=entry.alpha0
    )


def _catalog() -> list[StudyRow]:
    rows = [
        _baseline("layernorm", "function search"),
        _baseline("rmsnorm", "function search"),
        _baseline("dyt", "function search"),
    ]
    from candidates import PAPER

    for entry in PAPER:
        rows.append(
            StudyRow(
                entry.name,
                "function search",
                entry.name,
                None,
                entry.expression,
                entry.shift,
                entry.name in RUN_BASELINES,  # erf is Derf
                alpha0=entry.alpha0,
            )
        )
    for name in ("erf", "tanh", "satursin", "isru", "arctan", "arcsinhclip"):
        rows.append(
            StudyRow(
                f"noshift:{name}",
                "ablation: without s",
                name,
                None,
                get_entry(name).expression,
                "none",
                variant="no s",
            )
        )
    for name in ("erf", "arctan", "arcsinhclip"):
        rows.append(
            StudyRow(
                f"vector:{name}",
                "ablation: per-channel s",
                name,
                None,
                get_entry(name).expression,
                "vector",
                variant="per-channel s",
            )
        )
    rows.append(
        StudyRow(
            "tanh1205",
            "ablation: tanh(1.205x) against erf",
            f"tanh({TANH_LIKE_ERF}x)",
            None,
            f"tanh({TANH_LIKE_ERF}*x)",
            "scalar",
        )
    )
    return rows


def study_rows(name: str) -> list[StudyRow]:
    """The experiments of a built-in study (``properties`` or ``catalog``)."""
    if name == "properties":
        rows = _properties()
        rows += [_baseline("layernorm", "baselines"), _baseline("dyt", "baselines")]
        return rows
    if name == "catalog":
        return _catalog()
    raise UserError(f"unknown study {name!r}{suggest(name, list(STUDIES))}")


def _label(r: StudyRow) -> str:
    """The name a row goes by in plots and the leaderboard (its variant told apart)."""
    if r.baseline:
        return r.key
    lam = "" if r.lam is None else f" λ={_num(r.lam)}"
    return r.function + lam + (f" ({r.variant})" if r.variant else "")


def study_table(name: str) -> pd.DataFrame:
    """The study's rows as the candidate table of a run: the candidate record (with numeric
    property verdicts) plus the study's extras, :data:`candidates.STUDY_COLUMNS`.

    Rows that ask for the same function with the same shift (λ = 0 of several tables) share
    one run: their ``candidate_id`` is the first such row's key, ``row`` their own.
    """
    rows = study_rows(name)
    functions = {r.expression: Candidate.from_text(r.expression) for r in rows if r.expression}
    # Checked one expression at a time, not one id: clip(x, -2, 2) and clip(x, -1, 1) are one
    # candidate, but their scores (f'(0), the flat width) are their own.
    checked = candidates_table([check_candidate(c, symbolic=False) for c in functions.values()])
    records = dict(zip(functions, checked.to_dict("records"), strict=True))
    first: dict[tuple[str | None, str, float], str] = {}  # one run per (function, template)
    table = []
    for r in rows:
        function = records[r.expression] if r.expression else {}
        table.append(
            {
                **function,
                "candidate_id": first.setdefault((r.expression or r.key, r.shift, r.alpha0), r.key),
                "kind": "baseline" if r.baseline else "candidate",
                "name": _label(r),
                "shift": r.shift,
                "alpha0": r.alpha0,
                "row": r.key,
                "group": r.group,
                "function": r.function,
                "lam": r.lam,
            }
        )
    return as_candidate_table(pd.DataFrame(table))
