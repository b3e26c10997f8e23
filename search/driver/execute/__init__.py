"""Trials and where they run: one trial in this process (:class:`TrialSpec`, :func:`run_trial`:
no Ray), long-lived Ray workers and the report relay, Ray's token authentication, and the
:class:`Scheduler` that keeps the workers busy and retries a trial whose worker died. Above the
run directory's room; knows nothing of Optuna.

Names are imported on first use (see :mod:`search._lazy`): ``import ray`` waits for a trial.

Example:
    >>> from search.driver.execute import token_mode_for
    >>> token_mode_for(None, {})  # no cluster named: nothing to set
    False
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._lazy import lazy_attributes

if TYPE_CHECKING:
    from ._ray_auth import token_mode_for
    from ._scheduler import MAX_ATTEMPTS, Ended, Scheduler
    from ._trial import TrialSpec, pack_key, run_pack, run_trial, trial_plan
    from ._workers import LIBRARY_LOG, init_ray, library_logs_to, start_relay, start_worker

_WHERE = {
    "token_mode_for": "._ray_auth",
    "MAX_ATTEMPTS": "._scheduler",
    "Ended": "._scheduler",
    "Scheduler": "._scheduler",
    "TrialSpec": "._trial",
    "run_trial": "._trial",
    "pack_key": "._trial",
    "run_pack": "._trial",
    "trial_plan": "._trial",
    "LIBRARY_LOG": "._workers",
    "init_ray": "._workers",
    "library_logs_to": "._workers",
    "start_relay": "._workers",
    "start_worker": "._workers",
}

__all__ = [
    "LIBRARY_LOG",
    "MAX_ATTEMPTS",
    "Ended",
    "Scheduler",
    "TrialSpec",
    "init_ray",
    "library_logs_to",
    "pack_key",
    "run_pack",
    "run_trial",
    "start_relay",
    "start_worker",
    "token_mode_for",
    "trial_plan",
]

__getattr__ = lazy_attributes(__name__, _WHERE)
