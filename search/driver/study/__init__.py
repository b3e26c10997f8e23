"""The Optuna study of a run: its storage (and its errors in one line), one study per task
opened, asked and told for the driver (:class:`TaskStudies`), how a trial stores its candidate,
the samplers (the run's grid, the guided sampler) and pruners, the study's lease (one driver per
study), and the study's record in the run directory (``trials.parquet``, read back, and the
study rebuilt from it). Above the run directory's room; knows nothing of Ray.

Names are imported on first use (see :mod:`search._lazy`).

Example:
    >>> from search.driver.study import make_pruner
    >>> type(make_pruner("median", epochs=3)).__name__
    'MedianPruner'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._lazy import lazy_attributes

if TYPE_CHECKING:
    from ._guided import GUIDED_STARTUP, GuidedSampler, fit_surrogate, standardise
    from ._lease import StudyLease
    from ._parameter import CandidateParameter, candidate_of
    from ._rebuild import Rebuilt, check_storage_holds_run, rebuild_study, storable
    from ._record import (
        RESULT_FIELDS,
        as_number,
        damaged_hint,
        load_curves,
        load_trials,
        open_studies,
        read_candidates,
        read_trials,
        save_trials,
    )
    from ._sampler import ALPHA0_RANGE, CandidateGrid, make_pruner, make_sampler
    from ._studies import MAX_DUPLICATES, Asked, TaskStudies
    from ._study import StorageNotReady, StorageUnusable, open_storage, storage_errors

_WHERE = {
    "GUIDED_STARTUP": "._guided",
    "GuidedSampler": "._guided",
    "fit_surrogate": "._guided",
    "standardise": "._guided",
    "StudyLease": "._lease",
    "CandidateParameter": "._parameter",
    "candidate_of": "._parameter",
    "Rebuilt": "._rebuild",
    "check_storage_holds_run": "._rebuild",
    "rebuild_study": "._rebuild",
    "storable": "._rebuild",
    "RESULT_FIELDS": "._record",
    "as_number": "._record",
    "damaged_hint": "._record",
    "load_curves": "._record",
    "load_trials": "._record",
    "open_studies": "._record",
    "read_candidates": "._record",
    "read_trials": "._record",
    "save_trials": "._record",
    "ALPHA0_RANGE": "._sampler",
    "CandidateGrid": "._sampler",
    "make_pruner": "._sampler",
    "make_sampler": "._sampler",
    "MAX_DUPLICATES": "._studies",
    "Asked": "._studies",
    "TaskStudies": "._studies",
    "StorageNotReady": "._study",
    "StorageUnusable": "._study",
    "open_storage": "._study",
    "storage_errors": "._study",
}

__all__ = [
    "ALPHA0_RANGE",
    "GUIDED_STARTUP",
    "MAX_DUPLICATES",
    "RESULT_FIELDS",
    "Asked",
    "CandidateGrid",
    "CandidateParameter",
    "GuidedSampler",
    "Rebuilt",
    "StorageNotReady",
    "StorageUnusable",
    "StudyLease",
    "TaskStudies",
    "as_number",
    "candidate_of",
    "check_storage_holds_run",
    "damaged_hint",
    "fit_surrogate",
    "load_curves",
    "load_trials",
    "make_pruner",
    "make_sampler",
    "open_storage",
    "open_studies",
    "read_candidates",
    "read_trials",
    "rebuild_study",
    "save_trials",
    "standardise",
    "storable",
    "storage_errors",
]

__getattr__ = lazy_attributes(__name__, _WHERE)
