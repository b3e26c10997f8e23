"""Hostile command lines: the options a user types wrong, run through the real `derf-search`
entry point in a sandbox, each expected to end in one line on stderr, exit status 2, and no
file created, changed or removed anywhere in the sandbox.

The sandbox holds what hostile options point at: a file, an empty folder, a binary file, a
finished catalog study (without its ``study.db``, as a committed run is), a property study, a
calibration scored from it, copies with a truncated ``trials.parquet`` or a hand-broken
``config.toml``, a grammar that yields no candidate and reference tables with a λ out of range.
Each case runs in a fresh copy of it, three folders deep, so that a path climbing out of the
working folder (``../../x``) still lands inside what is compared.

Example:
    >>> [case.text for case in command_corpus() if case.origin == "corpus:outside"][0]
    'run --study-name ../../x --expr erf --task mnist1d --budget quick'
"""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import shutil
import tempfile
import traceback
from collections.abc import Callable, Mapping
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from types import MappingProxyType

from ..bench import KEEP_CHARS, HostileCase, Status, run_case

#: Command lines by what makes them hostile (issue classes of the second hardening pass). Each
#: must be refused in one line, exit status 2, before anything is written.
HOSTILE_COMMANDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        # Values that would run something other than what they say.
        "silent": (
            "evaluate erf --task mnist1d --budget quick --seed 4294967296",
            "evaluate erf --task mnist1d --budget quick --seed -1",
            "run --expr erf --max-trials 0",
            "run --expr erf --max-trials -1",
            "run --expr erf --timeout 0",
            "run --expr erf --timeout -5",
            "run --expr erf --timeout nan",
            "run --expr erf --timeout inf",
            "generate --grammar empty.toml --sample 10 --seed 4294967296",
        ),
        # Names with path characters, and outputs that are folders.
        "outside": (
            "run --study-name ../../x --expr erf --task mnist1d --budget quick",
            "run --study-name a/b --expr erf",
            "run --study-name .. --expr erf",
            "study properties --task ../../../escaped/x",
            "study catalog --task mnist1d/../x",
            "leaderboard run --png adir",
            "benchmark sampler --tabular run --plot adir",
            "benchmark sampler --tabular run --plot afile/x.png",
        ),
        # Another run's files.
        "overwrite": ("calibrate --study props2 --out calib",),
        # Numbers that are not numbers a recipe or an option can mean.
        "values": (
            "run --expr erf --recipe lr=inf",
            "run --expr erf --recipe weight_decay=inf",
            "run --expr erf --recipe lr=nan",
            "run --expr erf --recipe lr=1e308 --protocol lr-sweep",
            "run --expr erf --recipe lr=１e-3",
            "run --expr erf --recipe depth=٣",
            "run --expr erf --recipe epochs=²",
            "evaluate erf --task mnist1d --alpha0 nan",
            "evaluate erf --task mnist1d --alpha0 inf",
            "evaluate erf --task mnist1d --alpha0 0",
            "evaluate erf --task mnist1d --alpha0 -1",
            "run --expr erf --alpha0 ５",
            "run --expr erf --gpus-per-trial nan",
            "calibrate --task mnist1d --degrade-points inf",
        ),
        # Options a resumed run cannot apply.
        "ignored": (
            "run --resume run --seeds 4",
            "run --resume run --seeds 3",  # its default, typed out: still not applied
            "run --resume run --budget 2",
            "run --resume run --expr x",
            "run --resume run --recipe lr=1e-3",
            "calibrate --resume calib --reference afile",
            "calibrate --resume calib --task mnist1d",
            "calibrate --resume calib --seeds 4",
            "study --resume run --seeds 4",
            "run --grammar empty.toml --task mnist1d --budget quick",
        ),
        # Paths and files that used to end in a traceback.
        "traceback": (
            "calibrate --task mnist1d --reference adir",
            "calibrate --task mnist1d --reference afile/x.csv",
            "calibrate --study props --reference adir",
            "run --expr erf --out afile/x",
            "evaluate erf --task mnist1d --seed 18446744073709551616",
            "leaderboard trunc",
            "map trunc",
            "plot trunc",
            "benchmark sampler --tabular trunc",
            "leaderboard badtoml",
            "leaderboard badtype",
            "leaderboard notable",
            "run --resume badtoml",
            "leaderboard run --png afile/x.png",
            "leaderboard run --png table.xyz",
            "export erf -o afile/x.py",
            "export erf -o adir --force",
            "check --file bin.dat",
        ),
        # Messages that must name the place or the fix.
        "messages": (
            "calibrate --task mnist1d --reference lam.csv",
            "run --expr erf --budget 0",
            "run --expr erf --workers 0",
            "leaderboard run --top -1",
            "run --expr -erf(-x)",
            "run --task mnist1d --task nosuchtask",
        ),
    }
)

#: The committed runs the sandbox copies (relative to the project root).
_RUN = "results/paper-catalog-mnist1d"
_PROPERTIES = "results/paper-properties-mnist1d"
_PROPERTIES_2 = "results/paper-properties-digits-dit"
#: A grammar whose every expression fails the properties.
EMPTY_GRAMMAR = """[grammar]
name = "empty"
max_size = 2
[operators]
unary = ["exp"]
binary = []
constants = []
[transforms]
variants = []
"""


def command_corpus() -> list[HostileCase]:
    """Every hostile command line, as cases of kind ``command``."""
    return [
        HostileCase("command", text, f"corpus:{group}")
        for group, texts in HOSTILE_COMMANDS.items()
        for text in texts
    ]


def _project_root() -> Path:
    return Path(__file__).resolve().parents[2]


def make_sandbox(root: Path) -> Path:
    """Fill ``root`` with what the hostile commands point at; returns the working folder
    (``root/a/b/c``) the commands run in."""
    from ..calibration import PAPER_REFERENCE, read_reference, rescore_study, write_calibration

    work = root / "a" / "b" / "c"
    work.mkdir(parents=True)
    project = _project_root()
    (work / "afile").write_text("a file, not a folder\n")
    (work / "adir").mkdir()
    (work / "bin.dat").write_bytes(bytes(range(256)) * 4)
    (work / "empty.toml").write_text(EMPTY_GRAMMAR)
    reference = PAPER_REFERENCE.read_text().splitlines()
    lam = [line.replace(",mix,0.5,", ",mix,7,", 1) for line in reference]
    (work / "lam.csv").write_text("\n".join(lam) + "\n")
    for name, source in (("run", _RUN), ("props", _PROPERTIES), ("props2", _PROPERTIES_2)):
        shutil.copytree(project / source, work / name, ignore=shutil.ignore_patterns("plots"))
    calib = work / "calib"
    shutil.copytree(work / "props", calib)
    write_calibration(calib, rescore_study(work / "props", read_reference(PAPER_REFERENCE)))
    trunc = shutil.copytree(work / "run", work / "trunc")
    parquet = (trunc / "trials.parquet").read_bytes()
    (trunc / "trials.parquet").write_bytes(parquet[: len(parquet) // 2])
    config = (work / "run" / "config.toml").read_text()
    for name, text in (
        ("badtoml", config.replace("[settings]", "[settings", 1)),
        ("badtype", config.replace("seeds = 3", 'seeds = "three"', 1)),
        ("notable", config.replace("[settings]", "[other]", 1)),
    ):
        shutil.copytree(work / "run", work / name)
        (work / name / "config.toml").write_text(text)
    return work


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``root`` with its size and modification time (folders: -1)."""
    out: dict[str, tuple[int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            stat = path.lstat()
            size = -1 if path.is_dir() else stat.st_size
            out[str(path.relative_to(root))] = (size, stat.st_mtime_ns)
    return out


def changes(
    before: Mapping[str, tuple[int, int]], after: Mapping[str, tuple[int, int]]
) -> list[str]:
    """What differs between two snapshots: ``+path`` made, ``-path`` removed, ``~path`` changed."""
    made = [f"+{p}" for p in sorted(set(after) - set(before))]
    gone = [f"-{p}" for p in sorted(set(before) - set(after))]
    changed = [f"~{p}" for p in sorted(set(before) & set(after)) if before[p] != after[p]]
    return made + gone + changed


@cache
def _template() -> Path:
    """The sandbox this worker process built once; each case runs in a copy of it."""
    root = Path(tempfile.mkdtemp(prefix="derf-hostile-")) / "template"
    make_sandbox(root)
    return root


def _installed_command() -> Callable[[list[str]], int]:
    """The function behind the installed ``derf-search`` (its console-script entry point): the
    corpus runs what a user runs, and this module need not import the package it tests."""
    (point,) = entry_points(group="console_scripts", name="derf-search")
    main: Callable[[list[str]], int] = point.load()
    return main


def run_command(argv: list[str], root: Path) -> tuple[int, str, list[str]]:
    """Run ``derf-search ARGV`` in ``root/a/b/c``: its exit status, its stderr and what it
    changed under ``root``."""
    main = _installed_command()
    before = snapshot(root)
    err = io.StringIO()
    cwd = os.getcwd()
    os.chdir(root / "a" / "b" / "c")
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse's own refusals
                code = exc.code if isinstance(exc.code, int) else 2
    finally:
        os.chdir(cwd)
    return code, err.getvalue(), changes(before, snapshot(root))


def run_command_case(case: HostileCase) -> tuple[Status, str]:
    """Run one command case in a fresh copy of the sandbox: ``error`` (exit 2, one line,
    nothing changed), ``wrong`` (it ran, or it was refused but a file changed) or
    ``traceback`` (anything else)."""
    assert isinstance(case.text, str)
    try:
        with tempfile.TemporaryDirectory(prefix="derf-case-") as tmp:
            root = Path(tmp) / "case"
            shutil.copytree(_template(), root, symlinks=True)
            code, err, changed = run_command(shlex.split(case.text), root)
    except Exception:
        return "traceback", traceback.format_exc()[-KEEP_CHARS:]
    lines = [line for line in err.splitlines() if line.strip()]
    if code == 2 and changed:
        return "wrong", f"refused, but changed {', '.join(changed[:5])}: {'; '.join(lines)}"
    if code == 2 and len(lines) == 1:
        return "error", lines[0]
    if code == 0:
        return "wrong", f"ran (exit 0){'; changed ' + ', '.join(changed[:5]) if changed else ''}"
    return "traceback", f"exit {code}: {err[-KEEP_CHARS:]}"


def run_any_case(case: HostileCase) -> tuple[Status, str]:
    """A case of any kind: command lines here, expressions and grammars by
    :func:`search.bench.run_case` (the runner `benchmark hostile` gives its workers)."""
    return run_command_case(case) if case.kind == "command" else run_case(case)
