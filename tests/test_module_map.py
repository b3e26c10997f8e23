"""docs/architecture.md's module map against the code: every module of the three packages has
its row (under its package or room), and every module a row names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("candidates", "evaluators", "search")
MAP = ROOT / "docs" / "architecture.md"


def mapped(text: str) -> set[str]:
    """``package.room.module`` of each module the map's table names (a ``_tasks/`` entry
    names a sub-package whole).

    >>> rows = ["## Module map", "| a | b | c |", "| `p.r` | `_x`, `_y/` | z |", "| | `_w` | v |"]
    >>> sorted(mapped("\\n".join(rows)))
    ['p.r._w', 'p.r._x', 'p.r._y/']
    """
    table = text.split("## Module map", 1)[1].split("\n## ", 1)[0]
    found: set[str] = set()
    package = ""
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or not cells[1].startswith("`"):
            continue
        if cells[0]:
            package = cells[0].strip("`")
        found |= {f"{package}.{m}" for m in re.findall(r"`([\w/]+)`", cells[1])}
    return found


def modules() -> set[str]:
    """``package.room.module`` of each module in the code (a sub-package without an
    ``__init__`` docstring row of its own, like ``evaluators._tasks``, as ``_tasks/``)."""
    found: set[str] = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__main__":
                continue
            private = [i for i, p in enumerate(parts[:-1]) if p.startswith("_")]
            if private:  # a module of a private sub-package: the sub-package is the entry
                i = private[0]
                found.add(".".join(parts[:i]) + f".{parts[i]}/")
            elif parts[-1] == "__init__":
                if package == "search" and parts[:2] == ["search", "cli"]:
                    found.add("search.cli.__init__")  # the CLI's main lives in it
            else:
                found.add(".".join(parts))
    return found


def test_every_module_has_its_row_in_the_module_map() -> None:
    missing = sorted(modules() - mapped(MAP.read_text()))
    assert missing == [], f"modules without a row in docs/architecture.md: {missing}"


def test_every_module_the_map_names_exists() -> None:
    stale = sorted(mapped(MAP.read_text()) - modules())
    assert stale == [], f"rows of docs/architecture.md naming no module: {stale}"
