"""The one validation of a run's settings before anything starts: :func:`check_run`.

:class:`RunSettings` refuses a value that is wrong on its own (a range, a choice, two options
that exclude each other) when it is made. What needs the world is asked here, once, by every
entry point (``run``, ``run --resume``, ``study``, ``calibrate``, ``predict``, and
:func:`run_search` for a caller of its own) before it writes a file, builds a candidate table or
starts Ray: the run directory, the functions and the grammar, the tasks with their budget and
recipe, and a storage given by URL. Each refusal is one :class:`candidates.UserError` line.

Example:
    >>> import tempfile
    >>> out = tempfile.mkdtemp()
    >>> check_run(RunSettings(tasks=("mnist1d",), budget="quick", out=out))
    >>> check_run(RunSettings(tasks=("mnist1d",), budget="slow", out=out))
    Traceback (most recent call last):
    ...
    candidates._errors.UserError: unknown budget 'slow' for task mnist1d (known: quick, default, \
or a number of epochs)
"""

from __future__ import annotations

from candidates import Candidate, UserError, load_grammar
from evaluators import apply_recipe, get_task, parse_recipe, unpackable

from .rundir import RunSettings, check_new_run_dir, check_resumable, check_sampler_fits
from .study import open_storage


def check_run(settings: RunSettings, *, resume: bool = False) -> None:
    """Refuse, in one line, a run that cannot start (``resume``: continue the run directory
    ``settings`` were read from); nothing is written."""
    _check_tasks(settings)
    if resume:
        check_resumable(settings)
    else:
        check_new_run_dir(settings)
        # a mistyped function or grammar is refused now, not after Ray has started
        for text in settings.expressions:
            Candidate.from_text(text)
        if settings.grammar is not None:
            load_grammar(settings.grammar)
        if settings.grammar is not None or settings.candidates_dir is not None:
            check_sampler_fits(settings.sampler, settings.max_candidates, up_to=True)
    if settings.storage is not None:
        _check_storage(settings, resume=resume)


def _check_tasks(settings: RunSettings) -> None:
    """Every task known, with the run's budget and recipe (a model setting it lacks is
    refused), packable where ``--pack`` asks for a count, and an untrained level where the
    lr-sweep protocol counts a diverged rate."""
    recipe = parse_recipe(settings.recipe)
    for name in settings.tasks:
        task = get_task(name)
        reason = unpackable(*apply_recipe(task, settings.budget, recipe))
        if reason is not None and settings.pack not in ("1", "auto"):
            raise UserError(
                f"--pack {settings.pack}: {reason} (task {name}); use --pack auto, which "
                "trains such runs one by one"
            )
        if settings.protocol == "lr-sweep" and task.untrained_level() is None:
            raise UserError(
                f"--protocol lr-sweep counts a diverged rate at the task's untrained level, "
                f"and task {name} has none (Task.untrained_level)"
            )


def _check_storage(settings: RunSettings, *, resume: bool) -> None:
    """A storage given by URL opens; a new run does not take over a study another run made."""
    given = open_storage(str(settings.storage))
    if resume:
        return
    names = {settings.study_for(task) for task in settings.tasks}
    taken = sorted(names & {s.study_name for s in given.get_all_studies()})
    if taken:
        raise UserError(
            f"the storage {settings.storage} already holds the study {taken[0]!r} "
            "(another run's, or this one's begun elsewhere): choose another "
            "--study-name, or resume the run it belongs to with --resume"
        )
