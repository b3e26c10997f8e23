"""The driver of a search: settings, the run directory, the Optuna study, the Ray workers and
the loop. It returns a summary; the commands write the reports.

Names are imported on first use (see :mod:`search._lazy`).

Example:
    >>> from search.driver import RunSettings
    >>> RunSettings(tasks=("mnist1d",)).study_for("mnist1d")
    'run:mnist1d'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes

if TYPE_CHECKING:
    from ._curves import (
        CURVE_COLUMNS,
        FALLING_SIGNALS,
        GROWTH_PREFIX,
        SUMMARIES,
        combined_series,
        growth_summary,
        log_slope,
        read_curves,
    )
    from ._files import STUDY_FILE, TRIALS_FILE, read_record_file
    from ._generate import GenerateSettings, generate, package_versions
    from ._guided import GUIDED_STARTUP, GuidedSampler, fit_surrogate, standardise
    from ._lease import StudyLease
    from ._lock import LOCK_FILE, RunInUse, hold_run_dir
    from ._owner import Owner
    from ._parameter import CandidateParameter, candidate_of
    from ._progress import StageProgress
    from ._protocol import (
        LADDER_HORIZON,
        LADDER_RECIPE,
        LADDER_WIDTHS,
        LR_LADDER,
        OBJECTIVES,
        OVERFIT_EPOCHS,
        OVERFIT_SUBSET,
        PROTOCOL_OWNS,
        PROTOCOL_RECIPES,
        PROTOCOLS,
        apply_protocol,
        check_protocol_recipe,
        protocol_alpha0,
        rung_of,
        sweep_summary,
    )
    from ._ray_auth import token_mode_for
    from ._rebuild import Rebuilt, rebuild_study
    from ._record import (
        RESULT_FIELDS,
        as_number,
        load_curves,
        load_trials,
        open_studies,
        read_candidates,
        read_trials,
        save_trials,
    )
    from ._run import MAX_ATTEMPTS, MAX_DUPLICATES, RunSummary, run_search
    from ._run_dir import ENUMERATION_GROWTH, FIRST_ENUMERATION, keep_descriptors, prepare_run_dir
    from ._sampler import ALPHA0_RANGE, CandidateGrid, make_pruner, make_sampler
    from ._settings import (
        CATEGORICAL_LIMIT,
        CELLS,
        DEFAULT_SEEDS,
        DEFAULT_TASK,
        DEGRADE_POINTS,
        PRUNERS,
        SAMPLERS,
        RunSettings,
    )
    from ._space import CandidateSet, candidate_set, merged_note
    from ._study import StorageNotReady, StorageUnusable, open_storage
    from ._trial import TrialSpec, run_trial
    from ._workers import init_ray, start_relay, start_worker

_WHERE = {
    "CATEGORICAL_LIMIT": "._settings",
    "CandidateParameter": "._parameter",
    "candidate_of": "._parameter",
    "GUIDED_STARTUP": "._guided",
    "GuidedSampler": "._guided",
    "fit_surrogate": "._guided",
    "standardise": "._guided",
    "CELLS": "._settings",
    "DEGRADE_POINTS": "._settings",
    "DEFAULT_SEEDS": "._settings",
    "DEFAULT_TASK": "._settings",
    "PROTOCOLS": "._protocol",
    "apply_protocol": "._protocol",
    "protocol_alpha0": "._protocol",
    "sweep_summary": "._protocol",
    "LR_LADDER": "._protocol",
    "OVERFIT_EPOCHS": "._protocol",
    "OVERFIT_SUBSET": "._protocol",
    "PROTOCOL_OWNS": "._protocol",
    "PROTOCOL_RECIPES": "._protocol",
    "check_protocol_recipe": "._protocol",
    "LADDER_HORIZON": "._protocol",
    "LADDER_RECIPE": "._protocol",
    "LADDER_WIDTHS": "._protocol",
    "rung_of": "._protocol",
    "OBJECTIVES": "._protocol",
    "PRUNERS": "._settings",
    "SAMPLERS": "._settings",
    "RunSettings": "._settings",
    "MAX_ATTEMPTS": "._run",
    "MAX_DUPLICATES": "._run",
    "RunSummary": "._run",
    "run_search": "._run",
    "prepare_run_dir": "._run_dir",
    "keep_descriptors": "._run_dir",
    "FIRST_ENUMERATION": "._run_dir",
    "ENUMERATION_GROWTH": "._run_dir",
    "CandidateSet": "._space",
    "candidate_set": "._space",
    "merged_note": "._space",
    "ALPHA0_RANGE": "._sampler",
    "CandidateGrid": "._sampler",
    "StorageNotReady": "._study",
    "StorageUnusable": "._study",
    "StudyLease": "._lease",
    "LOCK_FILE": "._lock",
    "RunInUse": "._lock",
    "hold_run_dir": "._lock",
    "Owner": "._owner",
    "token_mode_for": "._ray_auth",
    "make_pruner": "._sampler",
    "make_sampler": "._sampler",
    "open_storage": "._study",
    "TrialSpec": "._trial",
    "run_trial": "._trial",
    "init_ray": "._workers",
    "start_relay": "._workers",
    "start_worker": "._workers",
    "GenerateSettings": "._generate",
    "generate": "._generate",
    "package_versions": "._generate",
    "StageProgress": "._progress",
    "CURVE_COLUMNS": "._curves",
    "FALLING_SIGNALS": "._curves",
    "GROWTH_PREFIX": "._curves",
    "SUMMARIES": "._curves",
    "combined_series": "._curves",
    "growth_summary": "._curves",
    "log_slope": "._curves",
    "read_curves": "._curves",
    "load_curves": "._record",
    "RESULT_FIELDS": "._record",
    "as_number": "._record",
    "load_trials": "._record",
    "open_studies": "._record",
    "read_candidates": "._record",
    "read_trials": "._record",
    "read_record_file": "._files",
    "save_trials": "._record",
    "STUDY_FILE": "._files",
    "TRIALS_FILE": "._files",
    "Rebuilt": "._rebuild",
    "rebuild_study": "._rebuild",
}

__all__ = [
    "ALPHA0_RANGE",
    "CATEGORICAL_LIMIT",
    "CELLS",
    "CURVE_COLUMNS",
    "DEFAULT_SEEDS",
    "DEFAULT_TASK",
    "DEGRADE_POINTS",
    "ENUMERATION_GROWTH",
    "FALLING_SIGNALS",
    "FIRST_ENUMERATION",
    "GROWTH_PREFIX",
    "GUIDED_STARTUP",
    "LADDER_HORIZON",
    "LADDER_RECIPE",
    "LADDER_WIDTHS",
    "LOCK_FILE",
    "LR_LADDER",
    "MAX_ATTEMPTS",
    "MAX_DUPLICATES",
    "OBJECTIVES",
    "OVERFIT_EPOCHS",
    "OVERFIT_SUBSET",
    "PROTOCOLS",
    "PROTOCOL_OWNS",
    "PROTOCOL_RECIPES",
    "PRUNERS",
    "RESULT_FIELDS",
    "SAMPLERS",
    "STUDY_FILE",
    "SUMMARIES",
    "TRIALS_FILE",
    "CandidateGrid",
    "CandidateParameter",
    "CandidateSet",
    "GenerateSettings",
    "GuidedSampler",
    "Owner",
    "Rebuilt",
    "RunInUse",
    "RunSettings",
    "RunSummary",
    "StageProgress",
    "StorageNotReady",
    "StorageUnusable",
    "StudyLease",
    "TrialSpec",
    "apply_protocol",
    "as_number",
    "candidate_of",
    "candidate_set",
    "check_protocol_recipe",
    "combined_series",
    "fit_surrogate",
    "generate",
    "growth_summary",
    "hold_run_dir",
    "init_ray",
    "keep_descriptors",
    "load_curves",
    "load_trials",
    "log_slope",
    "make_pruner",
    "make_sampler",
    "merged_note",
    "open_storage",
    "open_studies",
    "package_versions",
    "prepare_run_dir",
    "protocol_alpha0",
    "read_candidates",
    "read_curves",
    "read_record_file",
    "read_trials",
    "rebuild_study",
    "run_search",
    "run_trial",
    "rung_of",
    "save_trials",
    "standardise",
    "start_relay",
    "start_worker",
    "sweep_summary",
    "token_mode_for",
]

__getattr__ = lazy_attributes(__name__, _WHERE)
