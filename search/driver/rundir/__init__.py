"""The run directory: what a run was asked for (``config.toml``: :class:`RunSettings`, the
protocols), its candidates (a catalog, ``--expr``, a grammar's generate step; :class:`RunPool`
as the driver reads them), its files and the checks on them before anything is written, its
growth curves, and one driver per run directory (the lock and who holds it). No Optuna, no Ray:
the bottom room of the driver.

Names are imported on first use (see :mod:`search._lazy`), so that ``--help`` stays light.

Example:
    >>> from search.driver.rundir import RUN_FILES, RunSettings
    >>> RunSettings(out="results/tour").run_dir.name, "config.toml" in RUN_FILES
    ('tour', True)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._lazy import lazy_attributes

if TYPE_CHECKING:
    from ._curves import (
        CURVE_COLUMNS,
        FALLING_SIGNALS,
        GROWTH_PREFIX,
        SUMMARIES,
        combined_series,
        curve_rows,
        growth_summary,
        log_slope,
        read_curves,
        save_curves,
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
    from ._lock import LOCK_FILE, RunInUse, hold_run_dir
    from ._owner import DRIVER_MARK, Owner, reap
    from ._pool import RunPool, trial_names
    from ._progress import StageProgress
    from ._protocol import (
        LADDER_HORIZON,
        LADDER_RECIPE,
        LADDER_WIDTHS,
        LR_LADDER,
        MIN_WIDTHS,
        OBJECTIVES,
        OVERFIT_EPOCHS,
        OVERFIT_SUBSET,
        PROTOCOL_OWNS,
        PROTOCOL_RECIPES,
        PROTOCOLS,
        apply_protocol,
        check_protocol_recipe,
        ladder_widths,
        protocol_alpha0,
        rung_of,
        sweep_summary,
    )
    from ._run_dir import (
        ENUMERATION_GROWTH,
        FIRST_ENUMERATION,
        check_new_run_dir,
        check_resumable,
        keep_descriptors,
        prepare_run_dir,
    )
    from ._settings import (
        CATEGORICAL_LIMIT,
        CELLS,
        DEFAULT_SEEDS,
        DEFAULT_TASK,
        DEGRADE_POINTS,
        PRUNERS,
        SAMPLERS,
        RunSettings,
        check_sample,
        check_sampler_fits,
    )
    from ._space import CandidateSet, candidate_set, merged_note

_WHERE = {
    "CURVE_COLUMNS": "._curves",
    "FALLING_SIGNALS": "._curves",
    "GROWTH_PREFIX": "._curves",
    "SUMMARIES": "._curves",
    "combined_series": "._curves",
    "curve_rows": "._curves",
    "growth_summary": "._curves",
    "log_slope": "._curves",
    "read_curves": "._curves",
    "save_curves": "._curves",
    "RUN_FILES": "._files",
    "STUDY_FILE": "._files",
    "TRIALS_FILE": "._files",
    "read_record_file": "._files",
    "require_writable": "._files",
    "study_missing": "._files",
    "GenerateSettings": "._generate",
    "generate": "._generate",
    "package_versions": "._generate",
    "LOCK_FILE": "._lock",
    "RunInUse": "._lock",
    "hold_run_dir": "._lock",
    "DRIVER_MARK": "._owner",
    "Owner": "._owner",
    "reap": "._owner",
    "RunPool": "._pool",
    "trial_names": "._pool",
    "StageProgress": "._progress",
    "LADDER_HORIZON": "._protocol",
    "LADDER_RECIPE": "._protocol",
    "LADDER_WIDTHS": "._protocol",
    "LR_LADDER": "._protocol",
    "MIN_WIDTHS": "._protocol",
    "OBJECTIVES": "._protocol",
    "OVERFIT_EPOCHS": "._protocol",
    "OVERFIT_SUBSET": "._protocol",
    "PROTOCOLS": "._protocol",
    "PROTOCOL_OWNS": "._protocol",
    "PROTOCOL_RECIPES": "._protocol",
    "apply_protocol": "._protocol",
    "check_protocol_recipe": "._protocol",
    "ladder_widths": "._protocol",
    "protocol_alpha0": "._protocol",
    "rung_of": "._protocol",
    "sweep_summary": "._protocol",
    "ENUMERATION_GROWTH": "._run_dir",
    "FIRST_ENUMERATION": "._run_dir",
    "check_new_run_dir": "._run_dir",
    "check_resumable": "._run_dir",
    "keep_descriptors": "._run_dir",
    "prepare_run_dir": "._run_dir",
    "CATEGORICAL_LIMIT": "._settings",
    "CELLS": "._settings",
    "DEFAULT_SEEDS": "._settings",
    "DEFAULT_TASK": "._settings",
    "DEGRADE_POINTS": "._settings",
    "PRUNERS": "._settings",
    "SAMPLERS": "._settings",
    "RunSettings": "._settings",
    "check_sample": "._settings",
    "check_sampler_fits": "._settings",
    "CandidateSet": "._space",
    "candidate_set": "._space",
    "merged_note": "._space",
}

__all__ = [
    "CATEGORICAL_LIMIT",
    "CELLS",
    "CURVE_COLUMNS",
    "DEFAULT_SEEDS",
    "DEFAULT_TASK",
    "DEGRADE_POINTS",
    "DRIVER_MARK",
    "ENUMERATION_GROWTH",
    "FALLING_SIGNALS",
    "FIRST_ENUMERATION",
    "GROWTH_PREFIX",
    "LADDER_HORIZON",
    "LADDER_RECIPE",
    "LADDER_WIDTHS",
    "LOCK_FILE",
    "LR_LADDER",
    "MIN_WIDTHS",
    "OBJECTIVES",
    "OVERFIT_EPOCHS",
    "OVERFIT_SUBSET",
    "PROTOCOLS",
    "PROTOCOL_OWNS",
    "PROTOCOL_RECIPES",
    "PRUNERS",
    "RUN_FILES",
    "SAMPLERS",
    "STUDY_FILE",
    "SUMMARIES",
    "TRIALS_FILE",
    "CandidateSet",
    "GenerateSettings",
    "Owner",
    "RunInUse",
    "RunPool",
    "RunSettings",
    "StageProgress",
    "apply_protocol",
    "candidate_set",
    "check_new_run_dir",
    "check_protocol_recipe",
    "check_resumable",
    "check_sample",
    "check_sampler_fits",
    "combined_series",
    "curve_rows",
    "generate",
    "growth_summary",
    "hold_run_dir",
    "keep_descriptors",
    "ladder_widths",
    "log_slope",
    "merged_note",
    "package_versions",
    "prepare_run_dir",
    "protocol_alpha0",
    "read_curves",
    "read_record_file",
    "reap",
    "require_writable",
    "rung_of",
    "save_curves",
    "study_missing",
    "sweep_summary",
    "trial_names",
]

__getattr__ = lazy_attributes(__name__, _WHERE)
