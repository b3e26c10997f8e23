"""`derf-search export`: a leaderboard row or an expression as a standalone PyTorch module.

The module's source comes from :func:`evaluators.standalone_source` (the layer owns its
export); this command picks the candidate and its template (the run's α0, the tuned best α0
where α0 was tuned, the row's shift), adds the leaderboard figures as notes, has the text
proved equivalent to :class:`evaluators.PointwiseNorm` by :func:`evaluators.check_standalone`,
and only then writes it — never over an existing file unless asked.

Example:
    >>> import tempfile, importlib.util, torch
    >>> path = export_module(Path(tempfile.mkdtemp()) / "isru_norm.py", candidate="isru")
    >>> spec = importlib.util.spec_from_file_location("isru_norm", path)
    >>> module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
    >>> module.Norm(8)(torch.zeros(2, 8)).abs().max().item()
    0.0
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import pandas as pd

from candidates import DEFAULT_ALPHA0, Candidate, UserError, find_entry, parse_shift
from evaluators import check_standalone, standalone_source

from ..driver import RunSettings
from ._leaderboard import load_leaderboard


def _figures(row: pd.Series, run_dir: Path) -> list[str]:
    tasks = [c[: -len(" mean")] for c in row.index if c.endswith(" mean")]
    lines = [f"Leaderboard of {run_dir} (rank {row['rank']}):"]
    for task in tasks:
        mean, n = row[f"{task} mean"], int(row[f"{task} n"])
        if n == 0 or not math.isfinite(float(mean)):
            lines.append(f"    {task}: no finished run")
            continue
        std = row[f"{task} std"]
        spread = f" ± {float(std):.4f}" if n > 1 and math.isfinite(float(std)) else ""
        line = f"    {task}: {float(mean):.4f}{spread} (n={n})"
        for ref in ("layernorm", "dyt"):
            delta = row.get(f"{task} Δ {ref}")
            if delta is not None and math.isfinite(float(delta)):
                line += f", Δ vs {ref} {float(delta):+.4f}"
        lines.append(line)
    return lines


def _row(run_dir: Path, rank: int | None, candidate: str | None, task: str | None) -> pd.Series:
    board = load_leaderboard(run_dir, task=task)
    if rank is not None:
        if not 1 <= rank <= len(board):
            raise UserError(f"rank must be between 1 and {len(board)}, but got {rank}")
        return board.iloc[rank - 1]
    assert candidate is not None
    match = board[(board["candidate_id"] == candidate) | (board["name"] == candidate)]
    if match.empty:
        return pd.Series(dtype=object)
    return match.iloc[0]


def _best_alpha0(row: pd.Series) -> float | None:
    """The tuned α0 of the row's first task that has one (a run with --tune-alpha)."""
    for column in row.index:
        if str(column).endswith(" best_alpha0") and math.isfinite(float(row[column])):
            return float(row[column])
    return None


def _own(row: pd.Series) -> float:
    """The α0 of the row's template (older run directories did not record one)."""
    try:
        value = float(row.get("alpha0", DEFAULT_ALPHA0))
    except (TypeError, ValueError):
        return DEFAULT_ALPHA0
    return value if math.isfinite(value) else DEFAULT_ALPHA0


def _write_new(path: Path, text: str, *, overwrite: bool) -> None:
    """Write ``text`` to ``path`` in one step (a temporary file renamed), refusing to replace
    a file that exists unless ``overwrite``."""
    if path.exists() and not overwrite:
        raise UserError(f"{path} exists: choose another -o or pass --force to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def export_module(
    output: str | Path,
    *,
    run_dir: Path | None = None,
    rank: int | None = None,
    candidate: str | None = None,
    task: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the module for leaderboard row ``rank`` of ``run_dir``, or for ``candidate`` (an
    expression, a catalog name, or a candidate id or name of the run)."""
    if rank is not None and run_dir is None:
        raise UserError("--rank needs a RUN_DIR")
    row = _row(run_dir, rank, candidate, task) if run_dir is not None else pd.Series(dtype=object)
    notes: list[str] = []
    if row.empty:
        assert candidate is not None
        entry = find_entry(candidate) if "(" not in candidate else None
        if entry is not None and entry.kind == "norm":
            raise UserError(
                f"{entry.name} is a normalization layer, not a point-wise function: "
                "use torch.nn's own"
            )
        fn = Candidate.from_text(candidate)
        shift = parse_shift(entry.shift if entry else "scalar")
        alpha0 = entry.alpha0 if entry else DEFAULT_ALPHA0
    else:
        assert run_dir is not None
        expression = row.get("expression")
        if not isinstance(expression, str):
            raise UserError(
                f"{row['candidate_id']} is a normalization layer, not a point-wise function: "
                "use torch.nn's own"
            )
        fn = Candidate.from_text(expression)
        if isinstance(row.get("name"), str):
            fn.name = str(row["name"])
        shift = parse_shift(str(row.get("shift", "scalar")))
        # The α0 the row ran with: tuned, or the run's, or the row's own template.
        tuned, chosen = _best_alpha0(row), RunSettings.read(run_dir).alpha0
        alpha0 = tuned if tuned is not None else chosen if chosen is not None else _own(row)
        notes = _figures(row, run_dir)
    text = standalone_source(fn, alpha0=alpha0, shift=shift, notes=notes)
    check_standalone(text, fn, alpha0=alpha0, shift=shift)  # refuses a non-equivalent module
    path = Path(output)
    _write_new(path, text, overwrite=overwrite)
    return path
