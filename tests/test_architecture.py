"""The layering the design promises, checked on the source: search → evaluators → candidates,
no import running back up, no module using another module's private names, the rooms of search,
of search.driver and of candidates layered, and no files importing each other in a circle."""

from __future__ import annotations

import ast
from collections.abc import Callable
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
#: The rooms of candidates, likewise: expressions at the bottom, the space of them on top.
#: ``_errors`` and ``_numbers`` (shared modules beside the rooms) import no room.
CANDIDATE_ROOMS_BELOW = {
    "expr": set(),
    "checks": {"expr"},
    "catalog": {"expr"},
    "shape": {"expr", "checks", "catalog"},
    "report": {"expr", "checks", "catalog", "shape"},
    "space": {"expr", "checks", "catalog", "shape", "report"},
}
#: Each package with rooms, and what each of its rooms may import.
ROOMS = {"search": ROOMS_BELOW, "candidates": CANDIDATE_ROOMS_BELOW}
#: Circles not untied yet (outside candidates): their tests are expected to fail, strictly, so
#: an entry goes when its circle does.
KNOWN_CIRCLES = {}

#: The rooms of search.driver: the run directory at the bottom, the study and the Ray side above
#: it (neither knows the other), and the driver's own modules (the loop) over all three.
DRIVER_ROOMS_BELOW = {"rundir": set(), "study": {"rundir"}, "execute": {"rundir"}}


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


def _target_violations(here: str, target: str) -> list[str]:
    """What module ``here`` importing module ``target`` breaks: the packages' layering, a
    package's or a room's private modules, the rooms' order."""
    found = []
    parts = target.split(".")
    top, package = parts[0], here.split(".")[0]
    if top in PACKAGES and top != package:
        if top not in BELOW[package]:
            found.append(f"{here} imports {target}: an import running back up")
        if any(_private(p) for p in parts[1:]):
            found.append(f"{here} imports {target}, a private module of another package")
    rooms = ROOMS.get(top, {})
    mine = here.split(".")[1] if "." in here else ""
    if top == package and len(parts) > 1 and parts[1] in rooms:
        if mine in rooms and parts[1] != mine and parts[1] not in rooms[mine]:
            found.append(f"{here} imports {target}: a room importing a room above it")
        if mine and mine not in rooms:
            found.append(f"{here} imports {target}: a shared module importing a room")
    # A private module of another room of the same package counts as private too.
    if (
        top == package
        and len(parts) > 2
        and parts[1] != mine
        and any(_private(p) for p in parts[2:])
    ):
        found.append(f"{here} imports {target}, a private module of another room")
    return found


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
            # a module of this package imported by name (``from ..shape import _shape``) is a
            # target of its own: the rooms' rules apply to it
            if source.split(".")[0] == here.split(".")[0]:
                targets += [f"{source}.{a.name}" for a in node.names if _is_module(source, a.name)]
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
            found += _target_violations(here, target)
    return found


def _imports(path: Path) -> list[str]:
    """The absolute module names ``path`` imports (anywhere in it, deferred imports too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom):
            found.append(_absolute(path, node))
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
    return found


def _driver_violations(path: Path) -> list[str]:
    """A driver room importing a room not below it, the driver's own modules or another room's
    private module; and a module outside the driver importing anything but ``search.driver``."""
    here = _module_name(path)
    parts = here.split(".")
    inside = parts[:2] == ["search", "driver"]
    mine = parts[2] if inside and len(parts) > 2 and parts[2] in DRIVER_ROOMS_BELOW else None
    found = []
    for target in _imports(path):
        names = target.split(".")
        if names[:2] != ["search", "driver"] or (len(names) == 2 and not inside):
            continue
        if not inside:
            found.append(f"{here} imports {target}: only search.driver is public")
            continue
        room = names[2] if len(names) > 2 else None
        if mine is not None and room == mine:
            continue  # a room's own modules
        if room not in DRIVER_ROOMS_BELOW:
            if mine is not None:
                found.append(f"{here} imports {target}: a room importing the driver above it")
            continue
        if mine is not None and room not in DRIVER_ROOMS_BELOW[mine]:
            found.append(f"{here} imports {target}: a room importing a room above it")
        if len(names) > 3:
            found.append(f"{here} imports {target}: another room's module, not its __init__")
    return found


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_driver_rooms_import_only_downwards(path):
    assert _driver_violations(path) == []


def test_the_driver_check_finds_what_it_looks_for():
    probe = ROOT / "search" / "driver" / "rundir" / "_architecture_probe.py"
    outside = ROOT / "search" / "reports" / "_architecture_probe.py"
    try:
        probe.write_text(
            "from ..study import open_storage\n"
            "from .._run import run_search\n"
            "from ..execute._trial import TrialSpec\n"
            "from ._settings import RunSettings\n"
        )
        outside.write_text(
            "from ..driver.rundir import RunSettings\nfrom ..driver import RunSettings\n"
        )
        found = _driver_violations(probe) + _driver_violations(outside)
    finally:
        probe.unlink()
        outside.unlink()
    assert len(found) == 5, found


def test_no_import_circle_among_the_driver_modules():
    """Every import counts, deferred ones too: a circle hidden in a function is one still."""
    files = sorted((ROOT / "search" / "driver").rglob("*.py"))
    by_name = {_module_name(p): p for p in files}
    edges = {
        name: {t for t in _imports(path) if t in by_name and t != name}
        for name, path in by_name.items()
    }
    state: dict[str, int] = {}  # 1: on the path being walked, 2: done

    def walk(name: str, path: list[str]) -> list[str] | None:
        state[name] = 1
        for nxt in sorted(edges[name]):
            if state.get(nxt) == 1:
                return [*path, name, nxt]
            if nxt not in state and (circle := walk(nxt, [*path, name])):
                return circle
        state[name] = 2
        return None

    circles = [c for name in sorted(by_name) if name not in state and (c := walk(name, []))]
    assert circles == []


def test_the_driver_public_names_are_its_rooms():
    """``search.driver`` names every public name once, each found where it says."""
    import search.driver
    from search.driver import execute, rundir, study

    assert sorted(search.driver.__all__) == sorted(set(search.driver.__all__))
    for name in search.driver.__all__:
        assert getattr(search.driver, name) is not None, name
    for room in (rundir, study, execute):
        assert room.__doc__
        for name in room.__all__:
            assert getattr(room, name) is not None, (room.__name__, name)


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


def _planted(files: dict[str, str], check: Callable[[], list[str]]) -> list[str]:
    """What ``check`` finds with ``files`` (paths under the root: source) planted, then removed."""
    paths = [ROOT / name for name in files]
    assert not any(path.exists() for path in paths)
    try:
        for path, source in zip(paths, files.values(), strict=True):
            path.write_text(source)
        return check()
    finally:
        for path in paths:
            path.unlink(missing_ok=True)


def test_the_rooms_of_candidates_are_checked() -> None:
    probes = {
        "candidates/expr/_architecture_probe.py": "from ..report import check\n",
        "candidates/_architecture_probe.py": "from .expr import parse\n",
        "candidates/space/_architecture_probe.py": (
            "from ..shape import _shape\nfrom ..shape._shape import GAUSSIAN\n"
        ),
    }
    found = _planted(probes, lambda: [v for name in probes for v in _violations(ROOT / name)])
    assert len(found) == 4, found
    assert "a room importing a room above it" in found[0]
    assert "a shared module importing a room" in found[1]
    assert all("a private module of another room" in v for v in found[2:])


def _import_graph() -> dict[str, set[str]]:
    """Each module of the three packages, and the modules of theirs it imports. An import
    inside a function counts: deferring an import hides a circle, it does not untie it. A name
    imported from a package is an edge to the package (its ``__init__``); a module imported by
    name (``from . import _numeric``) is an edge to that module."""
    paths = {_module_name(p): p for p in _modules()}
    graph: dict[str, set[str]] = {name: set() for name in paths}
    for name, path in paths.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                source = _absolute(path, node)
                targets = [
                    f"{source}.{a.name}" if f"{source}.{a.name}" in paths else source
                    for a in node.names
                ]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            graph[name] |= {t for t in targets if t in paths and t != name}
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return circles


def _packages() -> list[str]:
    """Every package and room: the folders of the three packages that hold an ``__init__.py``."""
    return sorted(_module_name(p) for p in _modules() if p.name == "__init__.py")


def _circles_through(package: str) -> list[list[str]]:
    """The circles with a module directly inside ``package``: its ``__init__`` or a file beside
    it (a room's ``__init__`` is the room's)."""
    packages = set(_packages())

    def inside(module: str) -> bool:
        return module == package or (
            module.rpartition(".")[0] == package and module not in packages
        )

    return [c for c in _circles(_import_graph()) if any(inside(m) for m in c)]


@pytest.mark.parametrize(
    "package",
    [
        pytest.param(
            p,
            marks=[pytest.mark.xfail(reason=KNOWN_CIRCLES[p], strict=True)]
            if p in KNOWN_CIRCLES
            else [],
        )
        for p in _packages()
    ],
)
def test_no_files_import_each_other_in_a_circle(package: str) -> None:
    assert _circles_through(package) == []


def test_the_circle_check_finds_a_circle() -> None:
    probes = {
        "candidates/expr/_probe_a.py": "from ._probe_b import B\nA = 1\n",
        "candidates/expr/_probe_b.py": "B = 1\n\n\ndef f():\n    from ._probe_a import A\n",
    }
    found = _planted(probes, lambda: _circles_through("candidates.expr"))
    assert found == [["candidates.expr._probe_a", "candidates.expr._probe_b"]]


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
