"""A new run directory: its candidate table and its settings, written before any trial.

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

import pandas as pd

from candidates import RUN_BASELINES, UserError, as_candidate_table, get_catalog
from evaluators import get_task

from ._settings import RunSettings
from ._space import CandidateSet, candidate_set


def _generate_count(settings: RunSettings) -> int:
    """How many candidates a `--grammar` run's generate step writes (and spends sympy on): the
    run's ``max_candidates``, plus room for those that turn out to be a function the run
    already has (a baseline's, the catalog's, an ``--expr``), which the run leaves out."""
    catalog = len(get_catalog(settings.catalog)) if settings.catalog is not None else 0
    return settings.max_candidates + len(RUN_BASELINES) + catalog + len(settings.expressions)


def prepare_run_dir(
    settings: RunSettings, *, symbolic: bool = True, table: pd.DataFrame | None = None
) -> CandidateSet:
    """Write the candidates and the settings of a new run; refuse a directory already used.
    ``table`` is the candidate table when the caller built it (a study's rows: the caller
    checked them, so the set says nothing was reused or checked here)."""
    from ._generate import GenerateSettings, generate, package_versions

    out = settings.run_dir
    if (out / "config.toml").exists() or (settings.storage is None and (out / "study.db").exists()):
        raise UserError(
            f"{out} already holds a run: continue it with `derf-search run --resume {out}` "
            "or choose another --out"
        )
    if settings.study is not None and table is None:
        raise UserError(
            f"the {settings.study!r} study's candidate table must be given: "
            "build it with search.studies.study_table"
        )
    for task in settings.tasks:
        get_task(task).budget(settings.budget)  # unknown tasks and budgets fail here, early
    if settings.grammar is not None:
        generate(
            GenerateSettings(
                grammar=settings.grammar,
                max_expressions=settings.max_expressions,
                max_candidates=_generate_count(settings),
                out=out / "generate",
                progress=False,
            )
        )
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
    else:
        chosen = CandidateSet(as_candidate_table(table))
    out.mkdir(parents=True, exist_ok=True)
    chosen.table.to_parquet(out / "candidates.parquet", index=False)
    settings.write(out / "config.toml", {"command": "run", "versions": package_versions()})
    return chosen
