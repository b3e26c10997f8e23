"""The Ray side of a search: long-lived trial workers and the relay that carries their per-epoch
reports to the driver's pruner.

A worker is a Ray actor that imports torch and loads a task's data once, then runs trial after
trial. The driver alone talks to the Optuna storage (one writer); a worker's report callback
asks the relay, which waits until the driver has shown the report to the pruner and answered.

Example:
    >>> import ray
    >>> _ = ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False)
    >>> worker = start_worker(threads=1)
    >>> spec = TrialSpec(trial=0, task="digits-vit", candidate="erf", shift="scalar", seed=0,
    ...                  budget="quick", alpha0=0.5, device="cpu", max_steps=2)
    >>> ray.get(worker.run.remote(spec, None))["steps"]
    2
    >>> ray.shutdown()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ray

from candidates import UserError

from ..rundir import DRIVER_MARK, Owner
from ._ray_auth import AUTH_HINT
from ._trial import FAILURE, TrialSpec, run_pack, run_trial, trial_plan


@ray.remote(max_restarts=0, max_task_retries=0)
class TrialWorker:
    """Runs trials one after another in one process; tasks are built once and kept."""

    def __init__(self, threads: int) -> None:
        import torch

        torch.set_num_threads(max(1, threads))
        self._tasks: dict[str, Any] = {}

    def pid(self) -> int:
        return os.getpid()

    def run(self, spec: TrialSpec, relay: Any) -> dict[str, Any]:
        result = run_trial(spec, self._task(spec.task), report=_relayed(relay, spec.trial))
        return self._record(result.to_dict())

    def run_pack(self, specs: list[TrialSpec], relay: Any) -> list[dict[str, Any]]:
        """Trials sharing a :func:`pack_key` trained as packs; a result each, in order, or
        ``{FAILURE: why}`` for a trial that raised (its pack's others are unaffected)."""
        from evaluators import MemberFailure

        reports = [_relayed(relay, s.trial) for s in specs]
        results = run_pack(specs, self._task(specs[0].task), reports=reports)
        return [
            {FAILURE: r.error} if isinstance(r, MemberFailure) else self._record(r.to_dict())
            for r in results
        ]

    def pack_size(self, spec: TrialSpec) -> int:
        """``--pack auto``: the members a pack of trials like ``spec`` takes on this worker's
        device (:func:`evaluators.auto_pack`)."""
        from evaluators import auto_pack

        share = ray.get_runtime_context().get_assigned_resources().get("GPU", 1.0) or 1.0
        task, plan = trial_plan(spec, self._task(spec.task))
        return auto_pack(task, plan, spec.device, gpu_share=min(1.0, share))

    def _task(self, name: str) -> Any:
        from evaluators import get_task

        task = self._tasks.get(name)
        if task is None:
            task = self._tasks[name] = get_task(name)
        return task

    @staticmethod
    def _record(out: dict[str, Any]) -> dict[str, Any]:
        out["pid"] = os.getpid()
        out["node"] = ray.get_runtime_context().get_node_id()  # which machine of a cluster
        return out


def _relayed(relay: Any, key: int) -> Callable[[int, float, float, int], bool] | None:
    """Trial ``key``'s per-epoch report, carried by ``relay`` to the driver's pruner, which
    answers whether the trial stops (None without a relay: nothing prunes)."""
    if relay is None:
        return None

    def report(epoch: int, metric: float, val_loss: float, step: int) -> bool:
        return bool(ray.get(relay.report.remote(key, epoch, metric)))

    return report


@ray.remote(max_restarts=0)
class ReportRelay:
    """Holds each worker's per-epoch report until the driver has decided prune or go on."""

    def __init__(self) -> None:
        self._pending: list[tuple[int, int, float]] = []
        self._decisions: dict[tuple[int, int], asyncio.Future[bool]] = {}
        self._arrived = asyncio.Event()

    async def report(self, trial: int, epoch: int, value: float) -> bool:
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._decisions[(trial, epoch)] = future
        self._pending.append((trial, epoch, value))
        self._arrived.set()
        return await future

    async def next_reports(self, timeout: float = 1.0) -> list[tuple[int, int, float]]:
        """The reports not yet handed out; waits up to ``timeout`` seconds for the first."""
        if not self._pending:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), timeout)
        self._arrived.clear()
        pending, self._pending = self._pending, []
        return pending

    async def decide(self, decisions: list[tuple[int, int, bool]]) -> None:
        for trial, epoch, stop in decisions:
            future = self._decisions.pop((trial, epoch), None)
            if future is not None and not future.done():
                future.set_result(stop)

    async def release(self, trial: int) -> None:
        """Forget a trial's waiting reports (its worker died or the run stopped)."""
        for key in [k for k in self._decisions if k[0] == trial]:
            future = self._decisions.pop(key)
            if not future.done():
                future.set_result(True)


def start_worker(*, threads: int = 1, gpus: float = 0.0) -> Any:
    """A fresh worker actor holding ``threads`` CPUs (and ``gpus`` GPUs, fractions allowed)."""
    return TrialWorker.options(num_cpus=threads, num_gpus=gpus).remote(threads)  # type: ignore[attr-defined]


def start_relay() -> Any:
    # The relay only waits on futures: it must not hold a CPU a worker needs.
    return ReportRelay.options(num_cpus=0).remote()  # type: ignore[attr-defined]


def init_ray(*, address: str | None, workers: int, gpus_per_trial: float) -> bool:
    """Start an embedded Ray (or join ``address``) unless Ray is already up in this process;
    refuse GPU trials on a cluster without GPUs (they would wait forever). True if this call
    started or joined Ray (the caller then shuts it down)."""
    started = not ray.is_initialized()
    if started:
        _start_ray(address=address, workers=workers, gpus_per_trial=gpus_per_trial)
    gpus = ray.cluster_resources().get("GPU", 0.0)
    if gpus_per_trial > gpus:
        raise UserError(
            f"--gpus-per-trial {gpus_per_trial:g} asks for more GPUs than Ray sees ({gpus:g})"
        )
    return started


def _start_ray(*, address: str | None, workers: int, gpus_per_trial: float) -> None:
    if address:
        try:
            ray.init(address=address, log_to_driver=False)
        except ConnectionError as exc:
            raise UserError(
                f"cannot connect to the Ray cluster at {address} ({exc}); {AUTH_HINT}"
            ) from None
        return
    # Ray's processes inherit this: a later driver finds them if this one is killed.
    os.environ[DRIVER_MARK] = Owner.this_process().mark
    cpus = max(workers, os.cpu_count() or 1)
    kwargs: dict[str, Any] = {
        # Always a new local instance: without it Ray joins whatever cluster its address file
        # names (a running `ray start`, or a dead one's leftover file, which fails the run).
        "address": "local",
        "num_cpus": cpus,
        "include_dashboard": False,
        "log_to_driver": False,
        "configure_logging": False,
    }
    if gpus_per_trial > 0:
        import torch

        kwargs["num_gpus"] = torch.cuda.device_count()
    ray.init(**kwargs)


#: Where a run directory keeps what libraries' loggers said during the run (Ray's).
LIBRARY_LOG = "libraries.log"


@contextlib.contextmanager
def library_logs_to(path: Path) -> Iterator[None]:
    """Send the log messages no handler takes to ``path`` instead of the terminal while the
    block runs, so that a run prints only its own lines. Ray is started with
    ``configure_logging=False``, and ``ray.init`` then clears its logger's handlers: its token
    banner and warnings reach Python's last-resort handler (stderr), which this replaces.
    The worker processes' output stays in Ray's session logs."""
    handler = logging.FileHandler(path, encoding="utf-8", delay=True)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.WARNING)
    previous = logging.lastResort
    logging.lastResort = handler
    try:
        yield
    finally:
        logging.lastResort = previous
        handler.close()
