"""The registry that finds proxy tasks by name: the built-in tasks, tasks a package declares under
the ``derf_search.tasks`` entry point, and tasks registered with :func:`register_task`.

The built-in tasks are listed here, not registered by their own modules, so that the tasks
import only their base class and nothing imports back up.

Example:
    >>> task_names()
    ['chars-gpt', 'digits-dit', 'digits-vit', 'mnist1d', 'mnist1d-deep']
    >>> get_task("digits-vit").metric
    'accuracy'
"""

from __future__ import annotations

import importlib
from importlib import metadata

from candidates import UserError, suggest

from ._task import Task

_REGISTRY: dict[str, type[Task]] = {}


def register_task(cls: type[Task]) -> type[Task]:
    """Class decorator: make a task available by its ``name`` (a built-in task of the same name
    is then replaced)."""
    _REGISTRY[cls.name] = cls
    return cls


def _load_builtin() -> None:
    from ._tasks import BUILTIN_TASKS  # deferred: the tasks' data and models load on first use

    for cls in BUILTIN_TASKS:
        _REGISTRY.setdefault(cls.name, cls)


def _load_entry_points() -> None:
    for entry in metadata.entry_points(group="derf_search.tasks"):
        cls = entry.load()
        _REGISTRY.setdefault(getattr(cls, "name", entry.name), cls)


def task_names() -> list[str]:
    """The names of every task known: built in, declared by an installed package, registered."""
    _load_builtin()
    _load_entry_points()
    return sorted(_REGISTRY)


def get_task(name: str) -> Task:
    """A task by registered name, or ``package.module:Class``."""
    if ":" in name:
        module_name, _, attr = name.partition(":")
        try:
            cls = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise UserError(f"cannot load task {name!r}: {exc}") from None
        if not (isinstance(cls, type) and issubclass(cls, Task)):
            raise UserError(f"{name!r} is not a Task subclass")
        return cls()
    names = task_names()
    if name not in _REGISTRY:
        raise UserError(f"unknown task {name!r}{suggest(name, names)} (known: {', '.join(names)})")
    return _REGISTRY[name]()
