"""Constants with one source: the values several layers need are written once."""

from __future__ import annotations

import ast

import pytest

from tests.source import modules


def test_alpha0_default_has_one_source():
    """0.5 as α0 is written once: candidates.DEFAULT_ALPHA0; everything else refers to it."""
    from candidates import DEFAULT_ALPHA0

    assert DEFAULT_ALPHA0 == 0.5
    literal = []
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.keyword, ast.arg)) and "alpha0" in str(
                getattr(node, "arg", "")
            ):
                continue
            if isinstance(node, ast.AnnAssign | ast.Assign):
                names = [
                    t.id
                    for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
                    if isinstance(t, ast.Name)
                ]
                value = node.value
                if (
                    any("ALPHA0" in n.upper() for n in names)
                    and isinstance(value, ast.Constant)
                    and value.value == 0.5
                ):
                    literal.append(f"{path.name}: {names}")
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                args = node.args
                positional = args.args[len(args.args) - len(args.defaults) :]
                defaults = list(zip(positional, args.defaults, strict=True))
                defaults += [
                    (a, d)
                    for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
                    if d is not None
                ]
                for arg, default in defaults:
                    if (
                        "alpha0" in arg.arg
                        and isinstance(default, ast.Constant)
                        and default.value == 0.5
                    ):
                        literal.append(f"{path.name}:{node.lineno} {node.name}({arg.arg}=0.5)")
    assert literal == ["_template.py: ['DEFAULT_ALPHA0']"]


def test_the_shift_has_one_set_of_names_and_one_default():
    """The settings and the command line cannot import candidates at --help time, so they
    spell the shift's names and default; this keeps them equal to candidates' own."""
    from candidates import DEFAULT_SHIFT, SHIFTS
    from search.cli import build_parser
    from search.driver import RunSettings

    assert RunSettings().shift == DEFAULT_SHIFT
    parser = build_parser()
    assert parser.parse_args(["run"]).shift == DEFAULT_SHIFT
    for command in (["run"], ["evaluate", "erf", "--task", "mnist1d"]):
        for shift in SHIFTS:
            assert parser.parse_args([*command, "--shift", shift]).shift == shift
        with pytest.raises(SystemExit):
            parser.parse_args([*command, "--shift", "sideways"])
