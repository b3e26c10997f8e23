"""Hostile command lines, by class (the second hardening pass): each runs through the real
`derf-search` entry point in a sandbox of files to misuse, and must end in one line on stderr,
exit status 2, and no file made, changed or removed anywhere in the sandbox.

The fixed replay (:data:`search.cli.HOSTILE_COMMANDS`) is checked case by case; hypothesis then
draws more of each class: numbers that are not numbers an option can mean, names with paths in
them, output paths that are folders or lie under files, folders that belong to another run,
options a resumed run cannot apply, damaged run files, and markup in a reference table.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from search.cli import command_corpus, make_sandbox, run_command, run_command_case

CASES = command_corpus()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sandbox") / "template"
    make_sandbox(root)
    return root


def refused(template: Path, argv: list[str]) -> str:
    """Run ``argv`` in a fresh copy of the sandbox; assert it was refused cleanly and return
    the one line it printed."""
    with tempfile.TemporaryDirectory(prefix="derf-test-") as tmp:
        root = Path(tmp) / "case"
        shutil.copytree(template, root, symlinks=True)
        code, err, changed = run_command(argv, root)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, (argv, code, err[-2000:])
    assert len(lines) == 1, (argv, err[-2000:])
    assert changed == [], (argv, changed)
    return lines[0]


def hostile_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=timedelta(seconds=30),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


@pytest.mark.parametrize("case", CASES, ids=[f"{c.origin[7:]}:{c.text}" for c in CASES])
def test_the_replay_is_refused_in_one_line_touching_nothing(case: object) -> None:
    status, detail = run_command_case(case)  # type: ignore[arg-type]
    assert status == "error", detail


# --- values ---------------------------------------------------------------------------------

#: Digits that are not ASCII (Python's int() and float() read many of them).
UNICODE_DIGITS = st.text(
    st.characters(categories=["Nd", "No"], exclude_characters="0123456789"), min_size=1, max_size=4
)
NOT_NUMBERS = st.one_of(
    UNICODE_DIGITS,
    st.sampled_from(["nan", "NaN", "inf", "Infinity", "1e999", "0x10", "1_000", "", " ", "½"]),
)
NUMBER_OPTIONS = st.sampled_from(
    [
        ["evaluate", "erf", "--task", "mnist1d", "--seed"],
        ["evaluate", "erf", "--task", "mnist1d", "--alpha0"],
        ["run", "--expr", "erf", "--seeds"],
        ["run", "--expr", "erf", "--workers"],
        ["run", "--expr", "erf", "--max-trials"],
        ["run", "--expr", "erf", "--timeout"],
        ["run", "--expr", "erf", "--gpus-per-trial"],
        ["run", "--expr", "erf", "--budget"],
        ["run", "--expr", "erf", "--sample-seed"],
        ["calibrate", "--task", "mnist1d", "--degrade-points"],
        ["generate", "--grammar", "empty.toml", "--seed"],
        ["leaderboard", "run", "--top"],
    ]
)
SEED_OPTIONS = st.sampled_from(
    [
        ["evaluate", "erf", "--task", "mnist1d", "--seed"],
        ["generate", "--grammar", "empty.toml", "--sample", "5", "--seed"],
        ["run", "--grammar", "empty.toml", "--sample", "5", "--sample-seed"],
    ]
)
#: Seeds a generator would wrap (2**32 is seed 0 again) or refuse.
WRAPPING_SEEDS = st.integers(min_value=2**32, max_value=2**80) | st.integers(-(2**40), -1)
RECIPE_KEYS = st.sampled_from(["lr", "weight_decay", "epochs", "depth", "width", "clip_grad"])


@hostile_settings(40)
@given(option=NUMBER_OPTIONS, text=NOT_NUMBERS)
def test_numbers_that_are_not_numbers_are_refused(template: Path, option: list, text: str) -> None:
    refused(template, [*option, text])


@hostile_settings(15)
@given(option=SEED_OPTIONS, seed=WRAPPING_SEEDS)
def test_seeds_that_would_wrap_are_refused(template: Path, option: list, seed: int) -> None:
    assert "must be an integer from 0 to" in refused(template, [*option, str(seed)])


@hostile_settings(25)
@given(key=RECIPE_KEYS, text=NOT_NUMBERS.filter(lambda t: "," not in t and t.strip()))
def test_recipe_numbers_that_are_not_numbers_are_refused(
    template: Path, key: str, text: str
) -> None:
    line = refused(template, ["run", "--expr", "erf", "--recipe", f"{key}={text}"])
    assert f"recipe {key}" in line


# --- names and output paths -----------------------------------------------------------------

NAME_PARTS = st.text(st.sampled_from("abc._-"), min_size=0, max_size=4)
PATH_NAMES = st.one_of(
    st.builds(lambda a, b: f"{a}/{b}", NAME_PARTS, NAME_PARTS),
    st.builds(lambda a: f"../{a}", NAME_PARTS),
    st.sampled_from([".", "..", "/tmp/x", "a\\b", "x\n"]),
)


@hostile_settings(25)
@given(name=PATH_NAMES, option=st.sampled_from(["--study-name", "--task"]))
def test_names_with_paths_in_them_are_refused_before_any_folder(
    template: Path, name: str, option: str
) -> None:
    argv = ["run", "--expr", "erf", "--budget", "quick", option, name]
    if option == "--study-name":
        argv += ["--task", "mnist1d"]
    refused(template, argv)


OUTPUTS = st.one_of(
    st.sampled_from(["adir", "afile/x", "afile/x.png", "afile/x.py", "run", "adir/"]),
    st.builds(lambda s: f"board.{s}", st.text(st.sampled_from("pngsvgx"), max_size=3)).filter(
        lambda p: not p.endswith(".png")
    ),
)


@hostile_settings(25)
@given(
    command=st.sampled_from(
        [
            ["leaderboard", "run", "--png"],
            ["benchmark", "sampler", "--tabular", "run", "--plot"],
            ["export", "erf", "--force", "-o"],
            ["evaluate", "erf", "--task", "mnist1d", "--curves"],
        ]
    ),
    path=OUTPUTS,
)
def test_outputs_that_are_folders_or_lie_under_files_are_refused(
    template: Path, command: list, path: str
) -> None:
    if command[0] == "export" and path.endswith(".py") and not path.startswith("afile"):
        path = "adir"  # a writable .py file is a fine output: keep the case hostile
    refused(template, [*command, path])


@hostile_settings(10)
@given(out=st.sampled_from(["run", "props", "calib", "trunc", "afile", "afile/x"]))
def test_a_rescore_never_writes_over_another_run(template: Path, out: str) -> None:
    refused(template, ["calibrate", "--study", "props2", "--out", out])


# --- resumed runs ---------------------------------------------------------------------------

NOT_ON_RESUME = st.lists(
    st.sampled_from(
        [
            ["--seeds", "4"],
            ["--budget", "2"],
            ["--expr", "x"],
            ["--recipe", "lr=1e-3"],
            ["--task", "mnist1d"],
            ["--protocol", "gain-matched"],
            ["--sampler", "random"],
            ["--pruner", "median"],
            ["--alpha0", "2"],
        ]
    ),
    min_size=1,
    max_size=3,
    unique_by=lambda pair: pair[0],
)


@hostile_settings(20)
@given(options=NOT_ON_RESUME, command=st.sampled_from(["run", "study", "calibrate", "predict"]))
def test_options_a_resumed_run_cannot_apply_are_refused(
    template: Path, options: list, command: str
) -> None:
    argv = [command, "--resume", "run", *(part for pair in options for part in pair)]
    line = refused(template, argv)
    # either named as not applying on resume, or not an option of that command at all
    assert "resumed run" in line or "unrecognized arguments" in line or "invalid choice" in line


# --- damaged run files ----------------------------------------------------------------------


def run_truncated(
    template: Path, name: str, cut: float, argv: list[str]
) -> tuple[int, list[str], list[str]]:
    """Run ``argv`` in a sandbox whose ``run/NAME`` is cut to ``cut`` of its bytes: the exit
    status, the lines on stderr and what changed."""
    with tempfile.TemporaryDirectory(prefix="derf-test-") as tmp:
        root = Path(tmp) / "case"
        shutil.copytree(template, root, symlinks=True)
        path = root / "a" / "b" / "c" / "run" / name
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * cut)])
        code, err, changed = run_command(argv, root)
    return code, [line for line in err.splitlines() if line.strip()], changed


@hostile_settings(20)
@given(cut=st.floats(0.0, 0.99))
def test_a_truncated_config_is_read_or_refused_in_one_line(template: Path, cut: float) -> None:
    code, lines, changed = run_truncated(template, "config.toml", cut, ["leaderboard", "run"])
    assert changed == []
    assert (code, len(lines)) in ((0, 0), (2, 1)), lines


@hostile_settings(15)
@given(cut=st.floats(0.0, 0.99), command=st.sampled_from(["leaderboard", "map"]))
def test_a_truncated_trials_file_is_refused_in_one_line(
    template: Path, cut: float, command: str
) -> None:
    code, lines, _ = run_truncated(template, "trials.parquet", cut, [command, "run"])
    assert (code, len(lines)) == (2, 1), lines
    assert "trials.parquet" in lines[0]


# --- markup ---------------------------------------------------------------------------------

MARKUP = st.text(st.sampled_from("ab|<>&*_`[]()!\\ "), min_size=1, max_size=12).filter(
    lambda t: t.strip() and "," not in t and '"' not in t
)


@hostile_settings(4)
@given(label=MARKUP)
def test_a_reference_tables_text_is_escaped_in_the_report(template: Path, label: str) -> None:
    from search.calibration import PAPER_REFERENCE

    with tempfile.TemporaryDirectory(prefix="derf-test-") as tmp:
        root = Path(tmp) / "case"
        shutil.copytree(template, root, symlinks=True)
        work = root / "a" / "b" / "c"
        lines = PAPER_REFERENCE.read_text().splitlines()
        marked = [lines[0], *(f"{label}{line[line.index(',') :]}" for line in lines[1:])]
        (work / "marked.csv").write_text("\n".join(marked) + "\n")
        code, err, _ = run_command(
            ["calibrate", "--study", "props", "--reference", "marked.csv", "--out", "new"], root
        )
        assert code == 0, err[-2000:]
        report = (work / "new" / "calibration.md").read_text()
    assert "<" not in report.replace("&lt;", "")
    tables: list[list[str]] = [[]]
    for line in report.splitlines():
        if line.startswith("|"):
            tables[-1].append(line)
        elif tables[-1]:
            tables.append([])
    for table in (t for t in tables if t):  # every row keeps its table's columns
        assert len({len(_cells(row)) for row in table}) == 1, table


def _cells(row: str) -> list[str]:
    """The cells of a Markdown table row: split at each ``|`` not escaped."""
    cells, current, escaped = [], "", False
    for char in row.strip().strip("|"):
        if char == "|" and not escaped:
            cells.append(current)
            current = ""
        else:
            current += char
        escaped = char == "\\" and not escaped
    return [*cells, current]


@pytest.mark.parametrize("text", ["tasks", "check erf"])
def test_a_command_line_that_runs_counts_as_wrong(text: str) -> None:
    from search.bench import HostileCase

    status, detail = run_command_case(HostileCase("command", text, "test"))
    assert status == "wrong" and detail.startswith("ran"), detail


def test_a_new_run_refuses_a_study_its_storage_already_holds(tmp_path: Path) -> None:
    import optuna

    from candidates import UserError
    from search.driver import RunSettings, run_search

    url = f"sqlite:///{tmp_path / 'shared.db'}"
    optuna.create_study(storage=url, study_name="s:mnist1d")  # another run's study
    settings = RunSettings(
        expressions=("erf",),
        tasks=("mnist1d",),
        budget="quick",
        storage=url,
        study_name="s",
        out=str(tmp_path / "deeper" / "second"),
    )
    with pytest.raises(UserError, match="already holds the study 's:mnist1d'"):
        run_search(settings, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared.db"]


@hostile_settings(30)
@given(
    command=st.sampled_from(
        [
            ["run", "--expr", "erf", "--task", "mnist1d", "--budget", "quick", "--out"],
            ["study", "properties", "--task", "mnist1d", "--budget", "quick", "--out"],
            ["calibrate", "--task", "mnist1d", "--budget", "quick", "--out"],
            ["predict", "--task", "mnist1d", "--budget", "quick", "--out"],
            ["generate", "--grammar", "empty.toml", "--out"],
            ["sanity-panel", "--task", "mnist1d", "--budget", "quick", "--out"],
            ["calibrate", "--task", "mnist1d", "--budget", "quick", "--reference"],
            ["calibrate", "--study", "props", "--reference"],
            ["predict", "--zero-cost", "--reference"],
        ]
    ),
    path=st.sampled_from(["afile/x", "afile/x/y", "adir/../afile/z", "bin.dat/x", "missing/"])
    | st.sampled_from(["afile", "run", "props", "calib", "bin.dat"]),
)
def test_every_out_and_reference_refuses_a_file_a_folder_or_a_run(
    template: Path, command: list, path: str
) -> None:
    if command[-1] == "--reference" and path in ("run", "props", "calib"):
        path = "adir"  # a folder, not a table
    if command[-1] == "--reference" and path == "missing/":
        path = "missing.csv"
    refused(template, [*command, path])
