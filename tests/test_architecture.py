"""The layering the design promises, checked on the source: search → evaluators → candidates,
no import running back up, and no module using another module's private names."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("candidates", "evaluators", "search")
#: A package may import only the packages below it.
BELOW = {"candidates": set(), "evaluators": {"candidates"}, "search": {"candidates", "evaluators"}}
#: The rooms of search, likewise: the driver imports no report, the reports no study, ….
ROOMS_BELOW = {
    "driver": set(),
    "reports": {"driver"},
    "studies": {"driver", "reports"},
    "calibration": {"driver", "reports"},
    "prediction": {"driver", "reports", "calibration"},
    "bench": {"driver", "reports", "studies"},
    "cli": {"driver", "reports", "studies", "calibration", "prediction", "bench"},
}


def _modules() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _absolute(path: Path, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _is_module(package: str, name: str) -> bool:
    folder = ROOT.joinpath(*package.split("."))
    return (folder / f"{name}.py").is_file() or (folder / name / "__init__.py").is_file()


def _is_super(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"
    )


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    here = _module_name(path)
    # Private attributes this module defines itself (its classes' own) are its to use.
    defined = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))} | {
        t.attr
        for n in ast.walk(tree)
        if isinstance(n, (ast.Assign, ast.AnnAssign))
        for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
        if isinstance(t, ast.Attribute)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = _absolute(path, node)
            for alias in node.names:
                # a package's own private modules are its to import (``from . import _tasks``)
                own = source.split(".")[0] == here.split(".")[0] and _is_module(source, alias.name)
                if _private(alias.name) and not own:
                    found.append(f"{here} imports private name {alias.name} from {source}")
            targets = [source]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            if (
                isinstance(node, ast.Attribute)
                and _private(node.attr)
                and node.attr not in defined
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
                and not _is_super(node.value)
            ):
                found.append(f"{here}:{node.lineno} uses private attribute .{node.attr}")
            continue
        for target in targets:
            parts = target.split(".")
            top = parts[0]
            if top in PACKAGES and top != here.split(".")[0]:
                if top not in BELOW[here.split(".")[0]]:
                    found.append(f"{here} imports {target}: an import running back up")
                if any(_private(p) for p in parts[1:]):
                    found.append(f"{here} imports {target}, a private module of another package")
            if top == "search" and len(parts) > 1 and parts[1] in ROOMS_BELOW:
                mine = here.split(".")[1] if here.count(".") else ""
                if mine in ROOMS_BELOW and parts[1] != mine and parts[1] not in ROOMS_BELOW[mine]:
                    found.append(f"{here} imports {target}: a room importing a room above it")
            # A private module of another room of the same package counts as private too.
            if top == here.split(".")[0] and len(parts) > 2:
                room, mine = parts[1], here.split(".")[1] if "." in here else ""
                if room != mine and any(_private(p) for p in parts[2:]):
                    found.append(f"{here} imports {target}, a private module of another room")
    return found


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_private_names_cross_a_module_line(path):
    assert _violations(path) == []


def test_the_check_finds_what_it_looks_for(tmp_path):
    bad = ROOT / "search" / "_architecture_probe.py"
    try:
        bad.write_text(
            "from candidates._torch_source import HELPERS\n"
            "from evaluators import _layer\n"
            "def f(study):\n    return study._storage\n"
        )
        found = _violations(bad)
    finally:
        bad.unlink()
    assert len(found) == 3, found


def test_alpha0_default_has_one_source():
    """0.5 as α0 is written once: candidates.DEFAULT_ALPHA0; everything else refers to it."""
    from candidates import DEFAULT_ALPHA0

    assert DEFAULT_ALPHA0 == 0.5
    literal = []
    for path in _modules():
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
