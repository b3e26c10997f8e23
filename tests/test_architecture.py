"""The layering the design promises, checked on the source: search → evaluators → candidates,
no import running back up, no module using another module's private names, the rooms of search,
of search.driver and of candidates layered, and no files importing each other in a circle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.source import (
    PACKAGES,
    ROOT,
    absolute,
    imports,
    is_module,
    module_name,
    modules,
    planted,
    private,
)

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

#: The rooms of search.driver: the run directory at the bottom, the study and the Ray side above
#: it (neither knows the other), and the driver's own modules (the loop) over all three.
DRIVER_ROOMS_BELOW = {"rundir": set(), "study": {"rundir"}, "execute": {"rundir"}}


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
        if any(private(p) for p in parts[1:]):
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
        and any(private(p) for p in parts[2:])
    ):
        found.append(f"{here} imports {target}, a private module of another room")
    return found


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    here = module_name(path)
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
            source = absolute(path, node)
            for alias in node.names:
                # a package's own private modules are its to import (``from . import _tasks``)
                own = source.split(".")[0] == here.split(".")[0] and is_module(source, alias.name)
                if private(alias.name) and not own:
                    found.append(f"{here} imports private name {alias.name} from {source}")
            targets = [source]
            # a module of this package imported by name (``from ..shape import _shape``) is a
            # target of its own: the rooms' rules apply to it
            if source.split(".")[0] == here.split(".")[0]:
                targets += [f"{source}.{a.name}" for a in node.names if is_module(source, a.name)]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            if (
                isinstance(node, ast.Attribute)
                and private(node.attr)
                and node.attr not in defined
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
                and not _is_super(node.value)
            ):
                found.append(f"{here}:{node.lineno} uses private attribute .{node.attr}")
            continue
        for target in targets:
            found += _target_violations(here, target)
    return found


def _driver_violations(path: Path) -> list[str]:
    """A driver room importing a room not below it, the driver's own modules or another room's
    private module; and a module outside the driver importing anything but ``search.driver``."""
    here = module_name(path)
    parts = here.split(".")
    inside = parts[:2] == ["search", "driver"]
    mine = parts[2] if inside and len(parts) > 2 and parts[2] in DRIVER_ROOMS_BELOW else None
    found = []
    for target in imports(path):
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


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
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


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
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


def test_the_rooms_of_candidates_are_checked() -> None:
    probes = {
        "candidates/expr/_architecture_probe.py": "from ..report import check\n",
        "candidates/_architecture_probe.py": "from .expr import parse\n",
        "candidates/space/_architecture_probe.py": (
            "from ..shape import _shape\nfrom ..shape._shape import GAUSSIAN\n"
        ),
    }
    found = planted(probes, lambda: [v for name in probes for v in _violations(ROOT / name)])
    assert len(found) == 4, found
    assert "a room importing a room above it" in found[0]
    assert "a shared module importing a room" in found[1]
    assert all("a private module of another room" in v for v in found[2:])
