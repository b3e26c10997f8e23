"""What the source-walking tests share: the three packages' modules, their names, what each
imports, and planting a probe file for a moment."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("candidates", "evaluators", "search")


def modules() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def absolute(path: Path, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def is_module(package: str, name: str) -> bool:
    folder = ROOT.joinpath(*package.split("."))
    return (folder / f"{name}.py").is_file() or (folder / name / "__init__.py").is_file()


def imports(path: Path) -> list[str]:
    """The absolute module names ``path`` imports (anywhere in it, deferred imports too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom):
            found.append(absolute(path, node))
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
    return found


def planted(files: dict[str, str], check: Callable[[], list[str]]) -> list[str]:
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
