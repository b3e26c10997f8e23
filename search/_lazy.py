"""Public names of a package imported on first use, so that `derf-search --help` (which imports
the command line and, through it, the package tree) does not pay for torch, optuna and ray.

Example:
    >>> get = lazy_attributes("search.driver", {"RunSettings": ".rundir._settings"})
    >>> get("RunSettings").__name__
    'RunSettings'
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(package: str, where: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``where`` maps each public name to the module
    (relative to ``package``) that defines it."""

    def attribute(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(where[name], package), name)

    return attribute
