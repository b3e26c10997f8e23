"""The command line: check and generate, as a user runs them (a real subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from search.cli import main
from tests.runs import cli as run


def test_check_prints_a_readable_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "erf(x)", "sin(x)", "isru"]) == 0
    out = capsys.readouterr().out
    assert "erf(x)" in out and "passes all four properties" in out
    assert "FAIL monotonic" in out and "counterexample" in out
    assert "isru = x/sqrt(x**2 + 1)" in out


def test_check_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--json", "2*tanh(3*x)", "x"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["canonical"] for d in data] == ["tanh(x)", "x"]
    first = data[0]
    assert set(first) >= {
        "expression",
        "canonical",
        "id",
        "domain_ok",
        "domain_error",
        "properties",
    }
    assert set(first["properties"]) == {"zero_centered", "bounded", "center_sensitive", "monotonic"}
    for verdict in first["properties"].values():
        assert set(verdict) == {"pass", "score", "method", "evidence"}
        assert verdict["method"] in ("symbolic", "numeric")
    assert data[1]["properties"]["bounded"]["pass"] is False
    assert data[1]["properties"]["bounded"]["score"] == "inf"


def test_check_json_with_an_unparsable_expression_exits_2() -> None:
    proc = run("check", "--json", "erf(x)", "tahn(x)")
    assert proc.returncode == 2
    data = json.loads(proc.stdout)
    assert data[1]["expression"] == "tahn(x)" and "did you mean 'tanh'" in data[1]["error"]
    assert "properties" in data[0]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["check", "erf(x"], "syntax error"),
        (["check", "__import__('os').getcwd()"], "allowed"),
        (["check", "layernorm"], "normalization layer"),
        (["generate", "--grammar", "nope.toml"], "no such grammar file"),
        (["check", "--file", "missing.txt"], "no such file"),
        (["check", "erf(2x)"], "did you mean '2*x'?"),
        (["check", "erff"], "did you mean 'erf'"),
        (["evaluate", "arcsinhclp", "--task", "mnist1d"], "did you mean 'arcsinhclip'?"),
        (["run", "--grammar", "default", "--sample-seed", "3"], "give --sample too"),
    ],
)
def test_errors_are_one_line_and_exit_2(args: list[str], fragment: str) -> None:
    proc = run(*args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("derf-search: error:")
    assert fragment in lines[0]
    assert "Traceback" not in proc.stderr


def test_domain_error_is_reported_not_raised(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--json", "log(x)"]) == 0
    data = json.loads(capsys.readouterr().out)[0]
    assert data["domain_ok"] is False and "first offending x = 0" in data["domain_error"]


def test_check_reads_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "exprs.txt"
    path.write_text("# paper functions\nerf(x)\n\nsmoothsign  # a name works too\n")
    assert main(["check", "--json", "--file", str(path)]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2


def test_grammar_error_from_the_cli_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "g.toml"
    path.write_text('[grammar]\nmax_size = 3\n[operators]\nunary = ["erf", "tahn"]\n')
    proc = run("generate", "--grammar", str(path), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert f"{path}:4: key 'operators.unary'" in proc.stderr


def test_generate_writes_the_run_directory(tmp_path: Path) -> None:
    grammar = tmp_path / "g.toml"
    grammar.write_text(
        '[grammar]\nmax_size = 4\n[operators]\nunary = ["erf", "tanh", "atan", "exp", '
        '"satursin"]\nbinary = ["+", "*", "-"]\nconstants = [1, 2]\n'
        '[define]\nsatursin = "sin(clip(x, -pi/2, pi/2))"\n'
        '[transforms]\nvariants = ["shift+mirror", "clip"]\n'
    )
    out = tmp_path / "run"
    proc = run(
        "generate",
        "--grammar",
        str(grammar),
        "--out",
        str(out),
        "--json",
        "--symbolic-seconds",
        "5",
        "--no-progress",
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary == json.loads((out / "summary.json").read_text())
    for key in ("enumerated", "unique", "passing", "seconds"):
        assert key in summary
    assert summary["enumerated"] >= summary["screen_passed"] >= summary["unique"] > 0
    # a complete enumeration screens exactly the counted space
    assert summary["complete"] and summary["space_size_exact"]
    assert summary["space_size"] == summary["enumerated"]
    table = pd.read_parquet(out / "candidates.parquet")
    assert {
        "id",
        "expression",
        "canonical",
        "latex",
        "merged_from",
        "zero_centered",
        "bounded",
        "center_sensitive",
        "monotonic",
        "passed",
    } <= set(table.columns)
    assert table["id"].is_unique and len(table) == summary["written"]
    assert "erf(x)" in set(table["canonical"])
    report = json.loads((out / "property_report.json").read_text())
    assert len(report["candidates"]) == len(table)
    md = (out / "property_report.md").read_text()
    assert "# Property report" in md and "Merged expressions" in md
    png = (out / "plots" / "shapes.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    assert "tolerances" in (out / "config.toml").read_text()


def test_generate_sample_mode(tmp_path: Path) -> None:
    out = tmp_path / "sampled"
    assert (
        main(
            [
                "generate",
                "--sample",
                "3000",
                "--seed",
                "3",
                "--out",
                str(out),
                "--no-progress",
                "--symbolic-seconds",
                "0",
                "--max-candidates",
                "50",
            ]
        )
        == 0
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["mode"] == "sample" and summary["enumerated"] >= 3000
    assert summary["written"] <= 50


def test_help_does_not_import_the_heavy_modules() -> None:
    code = (
        "import sys, search.cli\n"
        "try:\n    search.cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('sympy', 'torch', 'matplotlib', 'numpy') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.slow  # the generate pipeline twice over 3,000 expressions: about a minute
def test_benchmark_prints_its_figures() -> None:
    proc = run(
        "benchmark", "--max-expressions", "3000", "--max-candidates", "200", "--workers", "2"
    )
    assert proc.returncode == 0, proc.stderr
    for label in (
        "expressions screened",
        "expressions/s",
        "generate, end to end",
        "on 2 worker(s)",
        "on one (",
        "CPU per written candidate",
        "in sympy",
    ):
        assert label in proc.stdout
    assert "/ 200 (each written" in proc.stdout


def test_benchmark_layer_at_given_shapes() -> None:
    proc = run("benchmark", "layer", "--no-compile", "--shape", "2,8,16", "3x4x8")
    assert proc.returncode == 0, proc.stderr
    assert "(2, 8, 16)" in proc.stdout and "(3, 4, 8)" in proc.stdout
    assert proc.stdout.count("ratio") == 2
    bad = run("benchmark", "layer", "--shape", "2,8")
    assert bad.returncode == 2 and "three positive integers" in bad.stderr
    where = run("benchmark", "layer", "--no-compile", "--shape", "2,8,16", "--device", "tpu")
    assert where.returncode == 2 and "device must be cpu, cuda or auto" in where.stderr


def test_benchmark_throughput_prints_single_runs_beside_packs() -> None:
    proc = run(
        "benchmark", "throughput", "--task", "mnist1d", "--pack", "2", "--steps", "2", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    figures = json.loads(proc.stdout)
    assert [r["pack"] for r in figures["rows"]] == [1, 2] and figures["device"] == "cpu"
    assert all(r["runs_per_hour"] > 0 and r["tflops"] > 0 for r in figures["rows"])
    bad = run("benchmark", "throughput", "--pack", "0,4")
    assert bad.returncode == 2 and "every pack size is in 1..1024" in bad.stderr


def test_check_with_grammar_primitives(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    grammar = tmp_path / "g.toml"
    grammar.write_text('[define]\nhardtanh = "clip(x, -1, 1)"\n[tolerances]\nflat_width = 0.5\n')
    assert main(["check", "--json", "--grammar", str(grammar), "hardtanh(2*x)"]) == 0
    data = json.loads(capsys.readouterr().out)[0]
    assert data["canonical"] == "clip(x, -1, 1)"
    assert data["properties"]["center_sensitive"]["evidence"]["threshold"] == 0.5


def test_tasks_and_evaluate_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tasks", "--json"]) == 0
    tasks = json.loads(capsys.readouterr().out)
    assert "digits-vit" in [t["task"] for t in tasks]
    chars = next(t for t in tasks if t["task"] == "chars-gpt")
    assert chars["budgets"]["quick"] == "1 epoch (at most 20 steps), batch 32, lr 0.002, clip 1"
    assert main(["tasks"]) == 0  # what quick and default mean, per task
    assert "  digits-vit    default  30 epochs, batch 64, lr 0.01, clip none" in (
        capsys.readouterr().out.splitlines()
    )
    assert (
        main(
            [
                "evaluate",
                "erf",
                "--task",
                "digits-vit",
                "--budget",
                "quick",
                "--json",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {
        "task",
        "candidate",
        "metric",
        "value",
        "val_loss",
        "train_loss_eval",
        "diverged",
        "diverged_step",
        "skipped_steps",
        "attention_logit_peak",
        "seconds",
    }
    assert data["task"] == "digits-vit" and data["diverged"] is False
    assert data["skipped_steps"] == 0 and data["attention_logit_peak"] > 0


def test_evaluate_refuses_bad_names() -> None:
    proc = run("evaluate", "erf", "--task", "digits-vt")
    assert proc.returncode == 2 and "did you mean 'digits-vit'" in proc.stderr


def test_evaluate_of_a_diverging_candidate_is_valid_json() -> None:
    proc = run(
        "evaluate",
        "exp(x)",
        "--task",
        "chars-gpt",
        "--budget",
        "quick",
        "--json",
        "--device",
        "cpu",
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)  # strict JSON: no NaN
    assert data["diverged"] is True and data["value"] is None
    assert isinstance(data["diverged_step"], int) and data["attention_logit_peak"] is None


def test_a_run_refuses_a_bad_expression_before_ray_starts(tmp_path: Path) -> None:
    code = (
        "import os, sys; from search.cli import main; "
        f"rc = main(['run', '--expr', 'erf(2x)', '--out', {str(tmp_path / 'run')!r}]); "
        "print(rc, 'DERF_SEARCH_DRIVER' in os.environ)"  # set when the run starts its Ray
    )
    # not inherited from this process, where an earlier test's run may have set it
    env = {k: v for k, v in os.environ.items() if k != "DERF_SEARCH_DRIVER"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert proc.stdout.split() == ["2", "False"]
    assert proc.stderr.strip().splitlines() == [
        "derf-search: error: expression 'erf(2x)', column 5: syntax error: invalid decimal "
        "literal (did you mean '2*x'? products are written with *)"
    ]
    assert not (tmp_path / "run").exists()


@pytest.mark.slow  # a run in a child process: about 35 s
def test_a_run_prints_only_its_own_lines(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = run(
        "run", "--task", "mnist1d", "--budget", "quick", "--seeds", "1", "--max-trials", "2",
        "--expr", "isru", "--out", str(out), "--no-progress",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no banner, no warning, no stack trace from Ray
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:2] == ["#", "candidate"]
    # one seed: the last line says that nothing can be tested, and what to do
    assert "\nmnist1d: one seed per candidate, so no difference can be tested" in proc.stdout
    assert "--seeds 2 or" in proc.stdout
    assert not [x for x in lines if "ray" in x.lower() or "WARNING" in x or "INFO" in x]
    log = out / "libraries.log"  # what Ray's loggers said is kept there, not shown
    assert not log.exists() or "ray." in log.read_text()


def test_every_option_says_what_it_does_and_its_default() -> None:
    import argparse

    from search.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    silent = []
    for name, command in commands.choices.items():
        for action in command._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            text = action.help or ""
            has_default = action.default not in (None, False) and not action.required
            if not text or (has_default and "default" not in text):
                silent.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert silent == []
