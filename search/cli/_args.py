"""Settings dataclasses from parsed options: a field takes the option of the same name.

Example:
    >>> import argparse
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class S:
    ...     seeds: int = 1
    ...     out: str = "x"
    >>> settings_from(S, argparse.Namespace(seeds=3, other=1), out="y")
    S(seeds=3, out='y')
"""

from __future__ import annotations

import argparse
from dataclasses import fields
from typing import Any, TypeVar

T = TypeVar("T")


def settings_from(cls: type[T], args: argparse.Namespace, **fixed: Any) -> T:
    """``cls`` built from the options named like its fields, with ``fixed`` on top (the
    fields whose option has another name or needs converting)."""
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    values = {name: getattr(args, name) for name in names if hasattr(args, name)}
    return cls(**{**values, **fixed})


def add_protocol_options(parser: argparse.ArgumentParser) -> None:
    """``--protocol`` and ``--recipe``: how each candidate is trained, the same for all."""
    from ..driver import PROTOCOLS

    parser.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default="single",
        help="single: each function at its template's α0; gain-matched: α0 per function such "
        "that f(α0·z) has erf(0.5·z)'s spread (default single)",
    )
    parser.add_argument(
        "--recipe",
        nargs="+",
        metavar="KEY=VALUE",
        help="recipe changes, the same for every function: lr=4e-3 clip_grad=none depth=8 "
        "epochs=20 …",
    )
