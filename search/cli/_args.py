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
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields
from difflib import get_close_matches
from pathlib import Path
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


#: The picture formats a plot option writes (a PNG, with an SVG beside it).
PICTURE_SUFFIXES = (".png",)


def output_file(text: str, option: str, suffixes: tuple[str, ...] = ()) -> Path:
    """The path of a file a command will write, checked before any work: not a folder, in a
    folder that exists (not under a file), and with one of ``suffixes`` where given.

    >>> output_file("board.txt", "--png", PICTURE_SUFFIXES)
    Traceback (most recent call last):
    ...
    candidates._errors.UserError: --png takes a .png file, not 'board.txt'
    """
    from candidates import UserError

    path = Path(text)
    if suffixes and path.suffix.lower() not in suffixes:
        raise UserError(f"{option} takes a {' or '.join(suffixes)} file, not {text!r}")
    if path.is_dir():
        raise UserError(f"{option} {text} is a folder: give a file name")
    if not path.parent.is_dir():
        above = next((p for p in path.parents if p.exists()), None)
        if above is not None and not above.is_dir():
            raise UserError(f"{option} {text}: {above} is a file, not a folder")
        raise UserError(f"{option} {text}: the folder {path.parent} does not exist")
    return path


def picture_path(text: str, option: str) -> Path:
    """A picture's path (:func:`output_file` with :data:`PICTURE_SUFFIXES`): an SVG is written
    beside it."""
    return output_file(text, option, PICTURE_SUFFIXES)


#: What a resumed run may change: how it runs and how much more of it, never what it trains
#: (that is in its config.toml, and a study's fingerprint guards it). A command adds its
#: report options with ``set_defaults(resume_applies=…)``.
EXECUTION = frozenset(
    {
        "workers",
        "pack",
        "gpus_per_trial",
        "ray_address",
        "device",
        "storage",
        "timeout",
        "max_trials",
    }
)


#: What a resume of another kind of run is told (each command resumes its own runs).
RESUME_ELSEWHERE = "resume it with the command that started it"


def recorded_path(path: str | None) -> str | None:
    """A path typed on the command line as a run records it: absolute, so that a resume from
    another folder reads the same file.

    >>> recorded_path(None), Path(recorded_path("a/b")).is_absolute()
    (None, True)
    """
    return None if path is None else str(Path(path).resolve())


def resumed_settings(args: argparse.Namespace) -> Any:
    """The settings of the run ``--resume`` names, with the execution options typed on this
    command line (:data:`EXECUTION`; ``args.given``, set by :func:`search.cli.main`) applied."""
    from dataclasses import replace

    from ..driver import RunSettings

    settings = RunSettings.read(args.resume).with_out(args.resume)
    given: frozenset[str] = getattr(args, "given", frozenset())
    return replace(settings, **{name: getattr(args, name) for name in EXECUTION & given})


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
        hint = ""
        wanted = re.match(r"argument (\S+): expected (?:at least )?one argument", message)
        if wanted and wanted.group(1).startswith("--"):
            hint = f" (a value that begins with - is written {wanted.group(1)}=VALUE)"
        choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)$", message)
        if choice:
            known = re.findall(r"'([^']*)'", choice.group(2))
            near = get_close_matches(choice.group(1), known, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
        unknown = re.match(r"unrecognized arguments: (\S+)", message)
        if unknown:
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

    def given_options(self, args: argparse.Namespace, argv: Sequence[str]) -> dict[str, str]:
        """The options of ``args.command`` (or of this parser, without commands) typed in
        ``argv``, whatever their value (a default typed out is given too), by destination,
        each with its longest spelling; abbreviations are resolved as argparse does.

        >>> parser = OneLineParser(prog="p")
        >>> _ = parser.add_argument("--seeds", default=3)
        >>> parser.given_options(parser.parse_args(["--see", "3"]), ["--see", "3"])
        {'seeds': '--seeds'}
        """
        for action in self._actions:
            command = getattr(args, "command", None)
            if isinstance(action.choices, dict) and command in action.choices:
                chosen = action.choices[command]
                if isinstance(chosen, OneLineParser) and chosen is not self:
                    return chosen.given_options(args, argv)
        given = {}
        for token in argv:
            if token == "--":
                break
            if not token.startswith("-") or token == "-":
                continue
            name = token.split("=", 1)[0]
            known = self._option_string_actions
            matches = [name] if name in known else [o for o in known if o.startswith(name)]
            actions = {id(known[o]): known[o] for o in matches}
            if len(actions) == 1:
                (action,) = actions.values()
                if action.dest != "help":
                    given[action.dest] = max(action.option_strings, key=len)
        return given

    @staticmethod
    def resume_conflict(args: argparse.Namespace, given: Mapping[str, str]) -> str | None:
        """The refusal of the ``given`` options (:meth:`given_options`) a resumed run cannot
        apply (what it trains is in its config.toml), or None.

        >>> parser = OneLineParser(prog="p")
        >>> _ = parser.add_argument("--resume")
        >>> _ = parser.add_argument("--seeds", default=3)
        >>> argv = ["--resume", "d", "--seeds", "3"]
        >>> args = parser.parse_args(argv)
        >>> parser.resume_conflict(args, parser.given_options(args, argv))  # doctest: +ELLIPSIS
        '--seeds cannot change a resumed run, ...'
        """
        resume = getattr(args, "resume", None)
        if resume is None:
            return None
        if not str(resume).strip():  # else read as no --resume at all, and a new run started
            return "--resume needs a run directory, but got an empty path"
        applies = getattr(args, "resume_applies", EXECUTION) | {"resume", "no_progress"}
        refused = [option for dest, option in given.items() if dest not in applies]
        if not refused:
            return None
        them = "it" if len(refused) == 1 else "them"
        return (
            f"{', '.join(refused)} cannot change a resumed run, which goes on with the settings "
            f"in its config.toml: leave {them} out, or start a new run with --out"
        )

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


def add_cluster_options(parser: argparse.ArgumentParser) -> None:
    """``--gpus-per-trial``, ``--ray-address`` and ``--storage``: where the trials run and
    where their study lives, the same for every command that trains.

    >>> parser = argparse.ArgumentParser()
    >>> add_cluster_options(parser)
    >>> parser.parse_args([]).gpus_per_trial, parser.parse_args([]).storage
    (0.0, None)
    """
    parser.add_argument(
        "--gpus-per-trial", type=number("NON_NEGATIVE"), default=0.0, help="fractions allowed"
    )
    parser.add_argument("--ray-address", help="an existing Ray cluster (default: embedded Ray)")
    add_storage_option(parser)


def add_workers_options(parser: Any, *, default: int | None = 2, shown: str = "") -> None:
    """``--workers`` and ``--pack``: how many Ray workers train, and how many trials each
    trains at once as one batched model.

    >>> parser = argparse.ArgumentParser()
    >>> add_workers_options(parser)
    >>> args = parser.parse_args(["--pack", "auto"])
    >>> args.workers, args.pack
    (2, 'auto')
    """
    shown = shown or f"default {default}"
    parser.add_argument(
        "--workers", type=number("COUNT"), default=default, help=f"Ray workers ({shown})"
    )
    parser.add_argument(
        "--pack",
        default="1",
        metavar="K|auto",
        help="trials each worker trains at once as one batched model (same task and recipe, "
        "any functions and seeds); auto: as many as the worker's device fits, measured "
        "(docs/performance.md, Packed training; default 1)",
    )


def add_storage_option(parser: argparse.ArgumentParser) -> None:
    """``--storage``: an Optuna storage URL instead of the run directory's SQLite file."""
    parser.add_argument(
        "--storage", help="Optuna storage URL (default: SQLite in the run directory)"
    )


def add_reference_command(
    sub: Any, name: str, *, help: str, task: str, cells: str, cells_help: str, seeds: str
) -> argparse.ArgumentParser:
    """The sub-parser of a command that trains a reference table's functions (`calibrate`,
    `predict`): ``--task``, ``--reference``, ``--cells`` (default ``cells``), ``--seeds``,
    ``--budget``, ``--protocol`` and ``--recipe``; the command adds the rest."""
    from ..driver import CELLS

    p: argparse.ArgumentParser = sub.add_parser(name, help=help)
    p.add_argument("--task", help=task)
    p.add_argument(
        "--reference",
        metavar="CSV",
        help="full-scale results: table,property,base,variant,lam,value "
        "(default: the paper's Section 3, results/reference/paper-section3.csv)",
    )
    p.add_argument("--cells", choices=CELLS, default=cells, help=cells_help)
    p.add_argument(
        "--seeds", type=number("COUNT"), default=2, help=f"seeds per {seeds}, paired (default 2)"
    )
    add_budget_option(p)
    add_protocol_options(p)
    return p


def add_protocol_options(parser: argparse.ArgumentParser, *, ladder: bool = True) -> None:
    """``--protocol`` and ``--recipe``: how each candidate is trained, the same for all; with
    ``ladder``, ``--widths`` too (a command that trains one run has no ladder)."""
    from ..driver import LADDER_WIDTHS, PROTOCOLS

    *first, last = map(str, LADDER_WIDTHS)
    parser.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default="single",
        help="single: each function at its template's α0; gain-matched: α0 per function such "
        "that f(α0·z) has erf(0.5·z)'s spread; lr-sweep: every run at 0.25, 0.5, 1, 2 and 4 "
        f"times the recipe's learning rate; ladder: every run at widths {', '.join(first)} "
        f"and {last} (--widths) for twice the recipe's steps (warmup-stable-decay), its "
        "growth curves fitted over width and steps by `derf-search predict`; overfit: every "
        "run on the same 512 training examples for 100 epochs, its train loss in eval mode "
        "beside the held-out metric (default single)",
    )
    parser.add_argument(
        "--recipe",
        action="append",
        metavar="KEY=VALUE[,…]",
        help="recipe changes, the same for every function: lr=4e-3,clip_grad=none,depth=8 "
        "(or the flag repeated); any budget field, depth, width, precision=fp32|bf16|fp16, "
        "schedule=cosine|wsd; regularisers (0: off): label_smoothing and mixup (Beta's α) for "
        "the classification tasks, drop_path (stochastic depth) for every task",
    )
    if ladder:
        parser.add_argument(
            "--widths",
            metavar="W,W,W",
            help="the ladder protocol's widths, at least three, each a multiple of the task's "
            f"attention heads (default {','.join(map(str, LADDER_WIDTHS))}); wider rungs are "
            "nearer a full-scale model and cost more",
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
