"""The one validation of a run's settings: every entry point refuses a bad value through
``check_run``, in the same line, before it writes a file or starts Ray."""

from __future__ import annotations

from pathlib import Path

import pytest

from search.cli import main
from search.driver import RunSettings, check_run

BAD_BUDGET = (
    "derf-search: error: unknown budget 'slow' for task digits-vit (known: quick, default, or "
    "a number of epochs)"
)

ENTRY_POINTS = {
    "run": ["run", "--expr", "isru"],
    "study": ["study", "catalog"],
    "calibrate": ["calibrate", "--cells", "decisive"],
    "predict": ["predict"],
}


@pytest.mark.parametrize("command", list(ENTRY_POINTS), ids=list(ENTRY_POINTS))
def test_every_entry_point_refuses_a_bad_budget_alike_before_anything_starts(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    args = [*ENTRY_POINTS[command], "--task", "digits-vit", "--budget", "slow"]
    assert main([*args, "--out", str(out), "--no-progress"]) == 2
    assert capsys.readouterr().err.strip() == BAD_BUDGET
    assert not out.exists()  # refused before anything was written


@pytest.mark.parametrize("command", ["run", "calibrate", "predict"])
def test_a_resume_goes_through_the_same_check(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run directory whose settings no longer hold (here its budget, edited by hand) is
    refused by every command that resumes, in the same line, and left as it was."""
    out = tmp_path / "run"
    out.mkdir()
    study = {"run": None, "calibrate": "calibration", "predict": "prediction"}[command]
    settings = RunSettings(tasks=("digits-vit",), budget="slow", study=study, out=str(out))
    settings.write(out / "config.toml", {"command": "run"})
    (out / "candidates.parquet").write_bytes(b"")
    before = sorted(p.name for p in out.iterdir())
    assert main([command, "--resume", str(out), "--no-progress"]) == 2
    assert capsys.readouterr().err.strip() == BAD_BUDGET
    assert sorted(p.name for p in out.iterdir()) == before


def test_check_run_refuses_what_the_settings_alone_cannot_know(tmp_path: Path) -> None:
    from candidates import UserError

    fine = RunSettings(tasks=("digits-vit",), budget="quick", out=str(tmp_path / "a"))
    check_run(fine)
    with pytest.raises(UserError, match="unknown task"):
        check_run(RunSettings(tasks=("nosuch",), out=str(tmp_path / "b")))
    with pytest.raises(UserError, match="syntax error"):
        check_run(RunSettings(expressions=("x +* 1",), out=str(tmp_path / "c")))
