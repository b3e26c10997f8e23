"""A run directory: the checks before a run writes anything, and a new run's candidate table
and settings, written before any trial.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from search.driver import RunSettings
    >>> out = Path(tempfile.mkdtemp()) / "run"
    >>> chosen = prepare_run_dir(RunSettings(expressions=("isru",), out=str(out)), symbolic=False)
    >>> list(chosen.table["candidate_id"])[-1], sorted(p.name for p in out.iterdir())
    ('c2685b425403', ['candidates.parquet', 'config.toml'])
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from candidates import (
    DESCRIPTOR_COLUMNS,
    RUN_BASELINES,
    UserError,
    as_candidate_table,
    fill_descriptors,
    generate_candidates,
    get_catalog,
    load_grammar,
)

from ._files import (
    RUN_FILES,
    STUDY_FILE,
    TRIALS_FILE,
    read_record_file,
    require_writable,
    study_missing,
)
from ._generate import GenerateSettings, generate, package_versions
from ._lock import LOCK_FILE
from ._progress import StageProgress
from ._protocol import apply_protocol, ladder_widths
from ._settings import RunSettings, check_sampler_fits
from ._space import CandidateSet, candidate_set, merged_note


def check_new_run_dir(settings: RunSettings) -> None:
    """Refuse a new run's ``--out`` before anything is written: a run already there, a file,
    a folder that holds anything (a run never writes into a folder it did not make), or one
    that cannot be written."""
    out = settings.run_dir
    if (out / "config.toml").exists():
        raise UserError(
            f"{out} already holds a run: continue it with `derf-search run --resume {out}` "
            "or choose another --out"
        )
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file, not a folder: choose another --out")
    if out.is_dir() and any(p.name != LOCK_FILE for p in out.iterdir()):
        raise UserError(
            f"--out {out} is a folder with files of its own and not a derf-search run: "
            "choose a new or empty folder (nothing was written)"
        )
    require_writable(out)
    check_grammar_yields(settings)


def _yields_nothing(grammar: str, enumerated: int) -> UserError:
    return UserError(
        f"grammar {grammar} yields no candidate that passes the four properties ({enumerated} "
        f"expressions checked), so the run would train only the baselines: `derf-search "
        f"generate --grammar {grammar}` says why each failed"
    )


def check_grammar_yields(settings: RunSettings) -> None:
    """Refuse a ``--grammar`` run whose grammar has no passing candidate, before Ray starts:
    a numeric probe of its simplest expressions (about a second; the run's own generate step
    checks again with sympy, and a sampled run is checked there only)."""
    if settings.grammar is None or settings.sample is not None:
        return
    size = min(settings.max_expressions or FIRST_ENUMERATION, FIRST_ENUMERATION)
    probe = generate_candidates(
        load_grammar(settings.grammar),
        max_expressions=size,
        max_candidates=1,
        symbolic_seconds=0,
        workers=1,
    )
    whole = probe.enumeration.complete or size == settings.max_expressions
    if probe.passing == 0 and whole:
        raise _yields_nothing(settings.grammar, probe.enumeration.enumerated)


def check_resumable(settings: RunSettings) -> None:
    """Refuse a ``--resume`` that would lose or repeat work: files missing, the local study
    missing or empty (Optuna would start an empty one and the run would begin again) with no
    readable ``trials.parquet`` to rebuild it from (:func:`rebuild_study` does, under the
    run's lock), or a directory that cannot be written."""
    out = settings.run_dir
    for name in RUN_FILES:
        if not (out / name).is_file():
            raise UserError(
                f"{out} has no {name}: it cannot be resumed (was it removed? "
                "its trials.parquet, if any, still holds the finished trials)"
            )
    study, saved = out / STUDY_FILE, out / TRIALS_FILE
    if study_missing(settings):
        if not saved.is_file():
            state = "is empty" if study.is_file() else "is missing"
            raise UserError(
                f"{study} {state} and there is no {TRIALS_FILE} to rebuild it from, so the run "
                "cannot be resumed without running everything again; nothing was changed"
            )
        read_record_file(saved, columns=("task", "number", "state"))  # refused if damaged
    require_writable(out)
    if settings.storage is None:
        require_writable(study, folder=False)


def _generate_count(settings: RunSettings) -> int:
    """How many candidates a `--grammar` run's generate step writes (and spends sympy on): the
    run's ``max_candidates``, plus room for those that turn out to be a function the run
    already has (a baseline's, the catalog's, an ``--expr``), which the run leaves out."""
    catalog = len(get_catalog(settings.catalog)) if settings.catalog is not None else 0
    return settings.max_candidates + len(RUN_BASELINES) + catalog + len(settings.expressions)


#: A ``--grammar`` run without ``--max-expressions`` enumerates this many expressions first
#: (simplest first), and four times more each time that yields too few passing candidates.
FIRST_ENUMERATION = 5000
ENUMERATION_GROWTH = 4


def _generate_enough(settings: RunSettings, out: Path, *, progress: bool) -> dict[str, Any]:
    """The grammar's simplest expressions, enumerated only as far as the run needs: until
    the passing unique candidates cover ``max_candidates`` (and what the run already has), or
    up to ``max_expressions`` where the user set it. The rounds that find the size are
    numeric only after the first (the screen and the checks, microseconds an expression;
    sympy, milliseconds a candidate, is spent on the first and on the prefix chosen), so the
    result equals one enumeration of that size. With ``sample``, one seeded random draw of
    that many expressions instead. Returns the summary of the generate run written last."""
    needed = _generate_count(settings)
    if settings.sample is not None:  # one seeded draw, the size the user chose
        return generate(
            GenerateSettings(
                grammar=settings.grammar,
                sample=settings.sample,
                seed=settings.sample_seed or 0,
                max_candidates=needed,
                out=out,
                progress=progress,
            )
        )

    def written(size: int) -> dict[str, Any]:
        return generate(
            GenerateSettings(
                grammar=settings.grammar,
                max_expressions=size,
                max_candidates=needed,
                out=out,
                progress=progress,
            )
        )

    if settings.max_expressions is not None:
        return written(settings.max_expressions)
    first = written(FIRST_ENUMERATION)
    if first["complete"] or first["passing"] >= needed:
        return first
    grammar = load_grammar(settings.grammar)
    budget = FIRST_ENUMERATION
    while True:
        budget *= ENUMERATION_GROWTH
        with StageProgress(enabled=progress) as bars:
            probe = generate_candidates(
                grammar, max_expressions=budget, max_candidates=1, symbolic_seconds=0,
                progress=bars.update,
            )  # fmt: skip
        if probe.enumeration.complete or probe.passing >= needed:
            # sympy may merge or drop a few that the numbers kept apart: then grow on
            summary = written(budget)
            if summary["complete"] or summary["passing"] >= needed:
                return summary


def _described(table: pd.DataFrame, *, progress: bool) -> pd.DataFrame:
    """``fill_descriptors`` with a bar while they are computed (minutes for a whole grammar)."""
    with StageProgress(enabled=progress) as bar:
        return fill_descriptors(table, partial(bar.update, "describe"))


def keep_descriptors(run_dir: Path, table: pd.DataFrame, *, progress: bool = False) -> pd.DataFrame:
    """A resumed guided run's table with its descriptors, computed once and kept in the run's
    own ``candidates.parquet`` (rows and order unchanged) when an older version wrote it
    without them: the guided sampler reads them at every start. ``progress`` shows a bar while
    they are computed."""
    filled = _described(table, progress=progress)
    before = table[list(DESCRIPTOR_COLUMNS)].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    after = filled[list(DESCRIPTOR_COLUMNS)].to_numpy(dtype=float)
    if not np.array_equal(before, after, equal_nan=True):
        path = run_dir / "candidates.parquet"
        written = path.with_name(path.name + ".partial")
        filled.to_parquet(written, index=False)
        os.replace(written, path)  # a reader sees the old file or the new one, never half
    return filled


def prepare_run_dir(
    settings: RunSettings,
    *,
    symbolic: bool = True,
    table: pd.DataFrame | None = None,
    progress: bool = False,
) -> CandidateSet:
    """Write the candidates and the settings of a new run; refuse a directory already used.
    ``table`` is the candidate table when the caller built it (a study's rows: the caller
    checked them, so the set says nothing was reused or checked here). ``progress`` shows
    the grammar's enumeration (a ``--grammar`` run)."""
    out = settings.run_dir
    if (out / "config.toml").exists():  # checked again under the lock: a run may have begun
        check_new_run_dir(settings)
    if settings.study is not None and table is None:
        raise UserError(
            f"the {settings.study!r} study's candidate table must be given: "
            "build it with search.studies.study_table"
        )
    if settings.grammar is not None:
        summary = _generate_enough(settings, out / "generate", progress=progress)
        if summary["passing"] == 0:  # the run would train the baselines alone
            raise _yields_nothing(settings.grammar, summary["enumerated"])
    if table is None:
        chosen = candidate_set(
            catalog=settings.catalog,
            expressions=settings.expressions,
            run_dir=out / "generate" if settings.grammar is not None else settings.candidates_dir,
            shift=settings.shift,
            alpha0=settings.alpha0,
            symbolic=symbolic,
            limit=settings.max_candidates,
        )
        note = merged_note(chosen.merged)
        if progress and note:  # said before the trainings, not only in the final summary
            print(note, file=sys.stderr)
    else:
        chosen = CandidateSet(as_candidate_table(table))
    widths = ladder_widths(settings.widths)
    chosen = replace(chosen, table=apply_protocol(chosen.table, settings.protocol, widths=widths))
    if settings.sampler == "guided":  # its inputs, once, rather than at every start of the run
        chosen = replace(chosen, table=_described(chosen.table, progress=progress))
    check_sampler_fits(settings.sampler, chosen.table["candidate_id"].nunique())
    out.mkdir(parents=True, exist_ok=True)
    chosen.table.to_parquet(out / "candidates.parquet", index=False)
    settings.write(out / "config.toml", {"command": "run", "versions": package_versions()})
    return chosen
