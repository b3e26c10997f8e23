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


def add_budget_option(parser: argparse.ArgumentParser) -> None:
    """``--budget``: how long each proxy run trains.

    >>> parser = argparse.ArgumentParser()
    >>> add_budget_option(parser)
    >>> parser.parse_args([]).budget, parser.parse_args(["--budget", "8"]).budget
    ('default', '8')
    """
    parser.add_argument(
        "--budget",
        default="default",
        help="quick, default or a number of epochs; `derf-search tasks` says what quick and "
        "default are per task (default: default)",
    )


def add_protocol_options(parser: argparse.ArgumentParser) -> None:
    """``--protocol`` and ``--recipe``: how each candidate is trained, the same for all."""
    from ..driver import PROTOCOLS

    parser.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default="single",
        help="single: each function at its template's α0; gain-matched: α0 per function such "
        "that f(α0·z) has erf(0.5·z)'s spread; lr-sweep: every run at 0.25, 0.5, 1, 2 and 4 "
        "times the recipe's learning rate; ladder: every run at widths 16, 32 and 64 for twice "
        "the recipe's steps (warmup-stable-decay), its growth curves fitted over width and "
        "steps by `derf-search predict`; overfit: every run on the same 512 training examples for "
        "100 epochs, its train loss in eval mode beside the held-out metric (default single)",
    )
    parser.add_argument(
        "--recipe",
        action="append",
        metavar="KEY=VALUE[,…]",
        help="recipe changes, the same for every function: lr=4e-3,clip_grad=none,depth=8 "
        "(or the flag repeated); any budget field, depth, width, precision=fp32|bf16|fp16, "
        "schedule=cosine|wsd",
    )


def recipe_items(args: argparse.Namespace) -> tuple[str, ...]:
    """The ``--recipe`` changes, one ``KEY=VALUE`` each (the flag may be repeated, and each
    may hold several joined by commas).

    >>> recipe_items(argparse.Namespace(recipe=["lr=1e-2,depth=8", "epochs=3"]))
    ('lr=1e-2', 'depth=8', 'epochs=3')
    """
    return tuple(
        part.strip() for text in args.recipe or () for part in text.split(",") if part.strip()
    )
