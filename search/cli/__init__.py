"""The `derf-search` command line: one parser, commands in three modules (candidates,
experiments, search), and :func:`main`, which turns a user's mistake into one line.

Heavy modules (sympy, numpy, torch, matplotlib) are imported inside the commands, so
`derf-search --help` answers at once. User mistakes end in one line on stderr and exit status 2.

Example:
    $ derf-search check "erf(x)" "x/(1 + abs(x))"
    $ derf-search run --expr isru --task mnist1d
"""

from __future__ import annotations

import errno
import os
import sys
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .._lazy import lazy_attributes
from ._args import OneLineParser, recipe_items
from ._calibrate import add_calibrate_command
from ._candidates import add_candidate_commands
from ._codes import EXIT_BUG, EXIT_INTERRUPTED, EXIT_USAGE
from ._experiments import add_experiment_commands
from ._predict import add_predict_command
from ._search import add_search_commands, settings_from_args

if TYPE_CHECKING:
    from ._hostile_commands import (
        HOSTILE_COMMANDS,
        command_corpus,
        make_sandbox,
        run_any_case,
        run_command,
        run_command_case,
    )

__all__ = [
    "HOSTILE_COMMANDS",
    "build_parser",
    "command_corpus",
    "environment_error",
    "main",
    "make_sandbox",
    "recipe_items",
    "run_any_case",
    "run_command",
    "run_command_case",
    "settings_from_args",
]


# The hostile command replay is loaded when asked for: `derf-search --help` stays light.
__getattr__ = lazy_attributes(
    __name__,
    dict.fromkeys(
        (
            "HOSTILE_COMMANDS",
            "command_corpus",
            "make_sandbox",
            "run_any_case",
            "run_command",
            "run_command_case",
        ),
        "._hostile_commands",
    ),
)


def build_parser() -> OneLineParser:
    """The parser of every command.

    >>> build_parser().parse_args(["tasks"]).command
    'tasks'
    """
    parser = OneLineParser(
        prog="derf-search",
        description="Search for point-wise functions f that replace normalization layers, "
        "used as y = γ·f(α·x + s) + β.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    add_candidate_commands(sub)
    add_experiment_commands(sub)
    add_search_commands(sub)
    add_calibrate_command(sub)
    add_predict_command(sub)
    return parser


#: File-system refusals that are the machine's state, not a bug: said in one line.
_REFUSALS = {
    errno.EACCES: "permission denied",
    errno.EPERM: "not permitted",
    errno.EROFS: "the file system is read-only",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EISDIR: "it is a folder, not a file",
    errno.ENOTDIR: "part of the path is a file, not a folder",
    errno.ENAMETOOLONG: "the name is too long",
}


def environment_error(exc: BaseException) -> str | None:
    """One line for a file the machine would not let us write or read, else None.

    >>> environment_error(PermissionError(13, "Permission denied", "out/leaderboard.csv"))
    'cannot write or read out/leaderboard.csv: permission denied'
    """
    if not isinstance(exc, OSError) or exc.errno not in _REFUSALS:
        return None
    where = exc.filename if exc.filename is not None else "a file"
    return f"cannot write or read {where}: {_REFUSALS[exc.errno]}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. A user's mistake (:class:`candidates.UserError`) is one line on stderr
    and exit status 2; anything else is a bug in derf-search and keeps its traceback."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a refusal already said in one line
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    given = parser.given_options(args, argv)
    args.given = frozenset(given)
    conflict = parser.resume_conflict(args, given)
    if conflict is not None:
        print(f"derf-search {args.command}: error: {conflict}", file=sys.stderr)
        return EXIT_USAGE
    from candidates import UserError

    try:
        return int(args.run(args))
    except UserError as exc:
        print(f"derf-search: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("derf-search: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`derf-search check erf --json | head -1`): nothing to say, and
        # the interpreter's last flush must not fail again (Python's documented recipe).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BUG
    except Exception as exc:
        refused = environment_error(exc)
        if refused is not None:
            print(f"derf-search: error: {refused}", file=sys.stderr)
            return EXIT_USAGE
        traceback.print_exc()
        print(
            "derf-search: this is a bug in derf-search, not a mistake of yours: please report it "
            "with the command you ran and the traceback above",
            file=sys.stderr,
        )
        return EXIT_BUG
