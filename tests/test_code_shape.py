"""The shape the code keeps: no function longer than a screen and a half (ruff's C901 keeps the
branches down, configured in pyproject.toml), no module without its opening docstring."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("candidates", "evaluators", "search")
#: The longest a function may be, decorators and docstring included.
MAX_FUNCTION_LINES = 80


def _sources() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def _long_functions(source: str) -> list[tuple[str, int]]:
    """``(name, lines)`` of each function in ``source`` longer than the limit.

    >>> body = "\\n".join(["    x = 1"] * 90)
    >>> _long_functions(f"def f():\\n{body}\\n")
    [('f', 91)]
    """
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            length = (node.end_lineno or node.lineno) - first + 1
            if length > MAX_FUNCTION_LINES:
                out.append((node.name, length))
    return out


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_function_is_longer_than_the_limit(path: Path) -> None:
    assert _long_functions(path.read_text()) == []


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_module_opens_with_a_docstring(path: Path) -> None:
    tree = ast.parse(path.read_text())
    if path.name == "__main__.py" or not tree.body:
        return
    assert ast.get_docstring(tree), f"{path.relative_to(ROOT)} has no module docstring"
