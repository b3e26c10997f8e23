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

from candidates import (
    DEFAULT_ALPHA0,
    DELTA_REFERENCES,
    Candidate,
    UserError,
    find_entry,
    parse_shift,
)
from evaluators import check_standalone, standalone_source

from ..driver import RunSettings
from ._leaderboard import load_leaderboard


def _figures(rows: pd.DataFrame, run_dir: Path) -> list[str]:
    """The candidate's leaderboard figures, one line per task."""
    lines = [f"Leaderboard of {run_dir} (rank {rows['rank'].iloc[0]}):"]
    for _, row in rows.iterrows():
        task, mean, n = row["task"], float(row["mean"]), int(row["n"])
        if n == 0 or not math.isfinite(mean):
            lines.append(f"    {task}: no finished run")
            continue
        std = float(row["std"])
        spread = f" ± {std:.4f}" if n > 1 and math.isfinite(std) else ""
        line = f"    {task}: {mean:.4f}{spread} (n={n})"
        for ref in DELTA_REFERENCES:
            delta = float(row[f"delta_{ref}"])
            if math.isfinite(delta):
                line += f", Δ vs {ref} {delta:+.4f}"
        lines.append(line)
    return lines


def _rows(run_dir: Path, rank: int | None, candidate: str | None, task: str | None) -> pd.DataFrame:
    """The (long) leaderboard rows of one candidate: by overall rank, or by id or name."""
    board = load_leaderboard(run_dir, task=task)
    if rank is not None:
        last = int(board["rank"].max()) if len(board) else 0
        if not 1 <= rank <= last:
            raise UserError(f"rank must be between 1 and {last}, but got {rank}")
        return board[board["rank"] == rank]
    assert candidate is not None
    rows = board[board["candidate_id"] == candidate]
    if rows.empty:
        rows = board[board["name"] == candidate]
    keys = list(dict.fromkeys(rows["candidate_id"]))
    if len(keys) > 1:  # one function in several templates (its shift): which one is meant
        ranks = ", ".join(f"{k} (rank {r})" for k, r in zip(keys, rows.drop_duplicates(
            "candidate_id")["rank"], strict=True))  # fmt: skip
        raise UserError(f"{candidate!r} names several rows of {run_dir}: {ranks}; use --rank")
    return rows


def _best_alpha0(rows: pd.DataFrame) -> float | None:
    """The tuned α0 of the candidate's first task that has one (a run with --tune-alpha)."""
    tuned = pd.to_numeric(rows["best_alpha0"], errors="coerce").dropna()
    return float(tuned.iloc[0]) if len(tuned) else None


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
        umask = os.umask(0)  # mkstemp makes the file private; give it an ordinary file's mode
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
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
    rows = _rows(run_dir, rank, candidate, task) if run_dir is not None else pd.DataFrame()
    notes: list[str] = []
    if rows.empty:
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
        row = rows.iloc[0]
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
        tuned, chosen = _best_alpha0(rows), RunSettings.read(run_dir).alpha0
        alpha0 = tuned if tuned is not None else chosen if chosen is not None else _own(row)
        notes = _figures(rows, run_dir)
    text = standalone_source(fn, alpha0=alpha0, shift=shift, notes=notes)
    check_standalone(text, fn, alpha0=alpha0, shift=shift)  # refuses a non-equivalent module
    path = Path(output)
    _write_new(path, text, overwrite=overwrite)
    return path
