"""What a wheel built from pyproject.toml holds: every package and subpackage, and the data
files the code reads at run time (a plain `pip install .`, not only an editable install)."""

from __future__ import annotations

import fnmatch
import sys
from pathlib import Path

from setuptools import find_packages

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def _packages_on_disk() -> set[str]:
    found = set()
    for root in ("candidates", "evaluators", "search"):
        for init in (ROOT / root).rglob("__init__.py"):
            found.add(".".join(init.parent.relative_to(ROOT).parts))
    return found


def test_every_package_and_subpackage_is_built() -> None:
    include = CONFIG["packages"]["find"]["include"]
    built = set(find_packages(where=str(ROOT), include=include))
    assert _packages_on_disk() <= built
    assert {"search.calibration", "search.driver", "evaluators._tasks"} <= built
    assert not any(p.startswith("tests") for p in built)


def test_every_data_file_is_package_data() -> None:
    data = CONFIG["package-data"]
    packages = _packages_on_disk()
    for path in (ROOT / p for p in ("candidates", "evaluators", "search")):
        for file in path.rglob("*"):
            if not file.is_file() or file.suffix in (".py", ".pyc"):
                continue
            # the innermost package holding the file, and the file's path inside it
            parts = file.relative_to(ROOT).parts
            owner = max(
                (
                    ".".join(parts[:i])
                    for i in range(1, len(parts))
                    if ".".join(parts[:i]) in packages
                ),
                key=len,
            )
            inside = "/".join(parts[len(owner.split(".")) :])
            globs = data.get(owner, [])
            assert any(fnmatch.fnmatch(inside, g) for g in globs), f"{file} is not package data"
