"""Hostile input against `export` and the parser: text from a user never becomes code."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import ray
import torch

from candidates import Candidate, ExpressionError, parse
from evaluators import ExportError, check_standalone, standalone_source
from search import export_module
from search.driver import RunSettings, run_search

PAYLOAD = "__import__('os').system('touch pwned')"
HOSTILE_EXPRESSIONS = [
    f"atan(x) # ''' ; {PAYLOAD} ; '''",
    f'atan(x) # """ ; {PAYLOAD} ; """',
    'erf(x) # """',
    "erf(x) # \\",
]


def _import(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("text", HOSTILE_EXPRESSIONS)
def test_an_exported_expression_is_written_as_parsed_and_runs_nothing(text, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = export_module(tmp_path / "m.py", candidate=text)
    source = path.read_text()
    ast.parse(source)  # compiles
    module = _import(path)
    assert not (tmp_path / "pwned").exists()
    assert Candidate.from_text(text).expression == module.EXPRESSION
    assert "import" not in module.EXPRESSION and "#" not in module.EXPRESSION


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    """A real run whose --expr carries a comment payload, in a folder named with quotes."""
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        out = tmp_path_factory.mktemp("hostile") / "run \"\"\" ''' \\ x"
        settings = RunSettings(
            expressions=(HOSTILE_EXPRESSIONS[1],),
            tasks=("digits-vit",),
            seeds=1,
            budget="quick",
            workers=2,
            device="cpu",
            out=str(out),
        )
        run_search(settings, progress=False, max_steps=2)
    finally:
        ray.shutdown()
    return out


def test_export_by_rank_from_a_hostile_run_runs_nothing(hostile_run, tmp_path, monkeypatch):
    from search import load_leaderboard

    monkeypatch.chdir(tmp_path)
    board = load_leaderboard(hostile_run)
    assert "#" not in "".join(board["expression"].dropna())
    for rank in range(1, len(board) + 1):
        if not isinstance(board.iloc[rank - 1]["expression"], str):
            continue  # LayerNorm and RMSNorm are refused
        target = tmp_path / f"rank{rank}.py"
        export_module(target, run_dir=hostile_run, rank=rank)
        module = _import(target)
        assert str(hostile_run) in (module.__doc__ or "")  # the path, kept as text
    assert not (tmp_path / "pwned").exists()


def test_a_tampered_module_is_refused_before_it_is_written():
    erf = Candidate.from_text("erf")
    good = standalone_source(erf, alpha0=0.5, shift="scalar")
    assert check_standalone(good, erf, alpha0=0.5, shift="scalar") == "ErfNorm"
    extra = good + f"\n{PAYLOAD}\n"
    with pytest.raises(ExportError, match="not the expected module"):
        check_standalone(extra, erf, alpha0=0.5, shift="scalar")
    for tampered in (
        good.replace("CANDIDATE_ID = ", f"CANDIDATE_ID = {PAYLOAD} or "),
        good.replace("    out = torch.erf(", "    import os\n    out = torch.erf("),
    ):
        assert tampered != good
        with pytest.raises(ExportError, match="not the expected module"):
            check_standalone(tampered, erf, alpha0=0.5, shift="scalar")
    other = good.replace("torch.erf(", "torch.tanh(")
    with pytest.raises(ExportError, match="not the expected module"):
        check_standalone(other, erf, alpha0=0.5, shift="scalar")
    with pytest.raises(ExportError, match="does not compile"):
        check_standalone(good + "\ndef (", erf, alpha0=0.5, shift="scalar")


def test_export_never_replaces_a_file_unless_asked(tmp_path, capsys):
    from search.cli import main

    target = tmp_path / "mine.py"
    target.write_text("my own work\n")
    assert main(["export", "isru", "-o", str(target)]) == 2
    assert "exists" in capsys.readouterr().err
    assert target.read_text() == "my own work\n"
    assert main(["export", "isru", "-o", str(target), "--force"]) == 0
    assert "IsruNorm" in target.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["mine.py"]  # no temporary file left


@pytest.mark.parametrize(
    ("text", "hint"),
    [("ｅｒｆ(ｘ)", "did you mean 'erf(x)'"), ("erf(𝐱)", "'erf(x)'"), ("erf(ⅹ)", "'erf(x)'")],
)
def test_look_alike_characters_are_refused_with_the_ascii_spelling(text, hint):
    with pytest.raises(ExpressionError, match="non-ASCII character") as info:
        parse(text)
    assert hint in str(info.value) and "column" in str(info.value)


def test_look_alike_characters_are_one_line_on_the_command_line(capsys):
    from search.cli import main

    assert main(["check", "ｅｒｆ(x)"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "non-ASCII" in err


def test_a_closed_pipe_ends_quietly(tmp_path):
    many = tmp_path / "many.txt"
    many.write_text("erf(x)\n" * 150)  # ~200 kB of JSON: more than a pipe holds
    done = subprocess.run(
        f"{sys.executable} -m search.cli check --numeric-only --json --file {many} | head -1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.stdout.strip() == "["
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr


def test_a_bug_keeps_its_traceback_and_says_it_is_one(monkeypatch, capsys):
    from search import cli

    def broken(args):
        raise KeyError("internal")

    parser = cli.build_parser()
    args = parser.parse_args(["tasks"])
    args.run = broken
    monkeypatch.setattr(cli, "build_parser", lambda: _Fixed(parser, args))
    assert cli.main(["tasks"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "KeyError: 'internal'" in err and "is a bug" in err


class _Fixed:
    def __init__(self, parser, args):
        self.parser, self.args = parser, args

    def parse_args(self, argv):
        return self.args

    def __getattr__(self, name):  # the rest is the real parser's
        return getattr(self.parser, name)


def test_the_exported_gradients_match_at_infinite_slopes():
    fn = Candidate.from_text("sign(x)*abs(x)**(1/2)")
    text = standalone_source(fn, alpha0=1.0, shift="vector")
    check_standalone(text, fn, alpha0=1.0, shift="vector")
    namespace: dict[str, object] = {}
    exec(compile(text, "<m>", "exec"), namespace)
    layer = namespace["Norm"](4)
    x = torch.zeros(1, 4, requires_grad=True)
    layer(x).sum().backward()
    assert torch.isfinite(x.grad).all()
