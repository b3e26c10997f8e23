"""No files import each other in a circle, inside any package or room of the three packages:
an import inside a function counts too (deferring an import hides a circle, it does not untie
it)."""

from __future__ import annotations

import ast

import pytest

from tests.source import absolute, module_name, modules, planted


def _import_graph() -> dict[str, set[str]]:
    """Each module of the three packages, and the modules of theirs it imports. An import
    inside a function counts: deferring an import hides a circle, it does not untie it. A name
    imported from a package is an edge to the package (its ``__init__``); a module imported by
    name (``from . import _numeric``) is an edge to that module."""
    paths = {module_name(p): p for p in modules()}
    graph: dict[str, set[str]] = {name: set() for name in paths}
    for name, path in paths.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                source = absolute(path, node)
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
    return sorted(module_name(p) for p in modules() if p.name == "__init__.py")


def _circles_through(package: str) -> list[list[str]]:
    """The circles with a module directly inside ``package``: its ``__init__`` or a file beside
    it (a room's ``__init__`` is the room's)."""
    packages = set(_packages())

    def inside(module: str) -> bool:
        return module == package or (
            module.rpartition(".")[0] == package and module not in packages
        )

    return [c for c in _circles(_import_graph()) if any(inside(m) for m in c)]


@pytest.mark.parametrize("package", _packages())
def test_no_files_import_each_other_in_a_circle(package: str) -> None:
    assert _circles_through(package) == []


def test_the_circle_check_finds_a_circle() -> None:
    probes = {
        "candidates/expr/_probe_a.py": "from ._probe_b import B\nA = 1\n",
        "candidates/expr/_probe_b.py": "B = 1\n\n\ndef f():\n    from ._probe_a import A\n",
    }
    found = planted(probes, lambda: _circles_through("candidates.expr"))
    assert found == [["candidates.expr._probe_a", "candidates.expr._probe_b"]]
