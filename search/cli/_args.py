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
import sys
from collections.abc import Callable
from dataclasses import fields
from typing import Any, Literal, NoReturn, TypeVar

T = TypeVar("T")

#: The named ranges of :mod:`candidates` an option's number may take.
RangeName = Literal["COUNT", "SEED", "POSITIVE", "NON_NEGATIVE", "FRACTION"]


def number(named: RangeName | None = None, **bounds: Any) -> Callable[[str], int | float]:
    """An argparse type: the option's text as a number of the range ``named`` in
    :mod:`candidates` (or of ``NumberRange(**bounds)``): ASCII digits, finite, in range. The
    range is looked up when the option is given, so that ``--help`` imports nothing heavy.

    >>> parser = argparse.ArgumentParser()
    >>> _ = parser.add_argument("--seed", type=number("SEED"))
    >>> parser.parse_args(["--seed", "7"]).seed
    7
    >>> number(integer=True, low=0)("-1")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be an integer ≥ 0, not '-1'
    """

    def convert(text: str) -> int | float:
        import candidates

        kind = getattr(candidates, named) if named else candidates.NumberRange(**bounds)
        try:
            return kind.parse(text, "it")
        except candidates.UserError:
            raise argparse.ArgumentTypeError(f"must be {kind.describe()}, not {text!r}") from None

    convert.__name__ = named or "number"  # argparse names a type in its messages
    return convert


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose refusals are one line on stderr (exit status 2), with the
    known name nearest a mistyped command or option, and the ``--opt=VALUE`` form where a
    value begins with ``-``.

    >>> parser = OneLineParser(prog="p")
    >>> _ = parser.add_argument("--seeds")
    >>> parser.error_line("unrecognized arguments: --seds")
    'p: error: unrecognized arguments: --seds (did you mean --seeds?)'
    """

    def error_line(self, message: str) -> str:
        """The one line :meth:`error` prints for ``message``."""
        import re

        hint = ""
        wanted = re.match(r"argument (\S+): expected (?:at least )?one argument", message)
        if wanted and wanted.group(1).startswith("--"):
            hint = f" (a value that begins with - is written {wanted.group(1)}=VALUE)"
        choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)$", message)
        if choice:
            from difflib import get_close_matches

            known = re.findall(r"'([^']*)'", choice.group(2))
            near = get_close_matches(choice.group(1), known, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
        unknown = re.match(r"unrecognized arguments: (\S+)", message)
        if unknown:
            from difflib import get_close_matches

            options = sorted(self.option_names())
            near = get_close_matches(unknown.group(1).split("=")[0], options, n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
        return f"{self.prog}: error: {message}{hint}".replace("\n", " ")

    def option_names(self) -> set[str]:
        """Every option string of this parser and of its commands' parsers (argparse reports
        an unknown option of a command from the top parser)."""
        names: set[str] = set()
        for action in self._actions:
            names.update(action.option_strings)
            if isinstance(action.choices, dict):
                for parser in action.choices.values():
                    if isinstance(parser, OneLineParser):
                        names |= parser.option_names()
        return names

    def error(self, message: str) -> NoReturn:
        print(self.error_line(message), file=sys.stderr)
        sys.exit(2)


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
