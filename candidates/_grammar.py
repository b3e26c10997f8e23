"""Grammar files: which primitives, constants, transforms and limits span a search space.

A grammar is a TOML file (see ``candidates/grammars/default.toml``, which documents every key).
Mistakes are reported as :class:`GrammarError` with the file, the line and the key.

Example:
    >>> g = load_grammar()            # the built-in default grammar
    >>> g.max_size, "satursin" in g.primitives
    (5, True)
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sympy as sp

from ._errors import ExpressionError, GrammarError
from ._operators import CONSTANTS, OPERATORS, suggest
from ._parser import parse
from ._properties import PROPERTIES, Tolerances

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

GRAMMAR_DIR = Path(__file__).parent / "grammars"
BINARY_OPERATORS = ("+", "-", "*", "/", "**", "min", "max")
TRANSFORMS = ("shift", "mirror", "clip", "ratio")
_SECTIONS = {
    "grammar": {"name", "description", "max_size", "max_depth"},
    "operators": {"unary", "binary", "constants"},
    "define": None,  # any names
    "transforms": {"variants", "clip_scales"},
    "constraints": {"forbid_inside", "max_constants"},
    "screen": {"require"},
    "tolerances": {"window", "zero_centered", "flat_tolerance", "flat_width", "symbolic_seconds"},
}


@dataclass(frozen=True)
class Grammar:
    """A parsed grammar file."""

    name: str
    path: str
    max_size: int
    unary: tuple[str, ...]
    binary: tuple[str, ...]
    constants: tuple[tuple[str, float], ...]  # (source text, value)
    primitives: Mapping[str, sp.Expr] = field(default_factory=dict)
    variants: tuple[tuple[str, ...], ...] = ()
    clip_scales: tuple[float, ...] = (1.0,)
    forbid_inside: Mapping[str, frozenset[str]] = field(default_factory=dict)
    max_depth: int | None = None
    max_constants: int | None = None
    require: tuple[str, ...] = PROPERTIES
    tolerances: Tolerances = field(default_factory=Tolerances)
    description: str = ""


def builtin_grammars() -> list[str]:
    return sorted(p.stem for p in GRAMMAR_DIR.glob("*.toml"))


def load_grammar(path: str | Path | None = None) -> Grammar:
    """Load a grammar file; ``None`` or a built-in name (``default``) loads a built-in one."""
    if path is None:
        path = GRAMMAR_DIR / "default.toml"
    elif not Path(path).exists() and str(path) in builtin_grammars():
        path = GRAMMAR_DIR / f"{path}.toml"
    path = Path(path)
    if not path.is_file():
        raise GrammarError(
            f"no such grammar file{suggest(path.stem, builtin_grammars())}", path=str(path)
        )
    text = path.read_text()
    return parse_grammar(text, str(path))


def _line_of(
    text: str, section: str, key: str | None = None, needle: str | None = None
) -> int | None:
    """The line of ``needle`` (or of ``key =``) inside ``[section]``; TOML parsers give no lines."""
    lines = text.splitlines()
    start = None
    for i, line in enumerate(lines):
        if re.match(rf"\s*\[\s*{re.escape(section)}\s*\]", line):
            start = i
            break
    if start is None:
        return None
    end = len(lines)
    for i in range(start + 1, len(lines)):
        if re.match(r"\s*\[", lines[i]):
            end = i
            break
    key_line = None
    for i in range(start + 1, end):
        if key is not None and re.match(rf"\s*\"?{re.escape(key)}\"?\s*=", lines[i]):
            key_line = i
            break
    search_from = key_line if key_line is not None else start
    if needle is not None:
        for i in range(search_from, end):
            if needle in lines[i]:
                return i + 1
    return (key_line + 1) if key_line is not None else start + 1


class _Reader:
    def __init__(self, text: str, path: str) -> None:
        self.text = text
        self.path = path

    def fail(
        self, message: str, section: str, key: str | None = None, needle: str | None = None
    ) -> GrammarError:
        line = _line_of(self.text, section, key, needle)
        return GrammarError(
            message, path=self.path, line=line, key=f"{section}.{key}" if key else section
        )


def parse_grammar(text: str, path: str = "<grammar>") -> Grammar:
    """Parse grammar TOML text; ``path`` is used in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        raise GrammarError(
            f"invalid TOML: {exc}", path=path, line=int(match.group(1)) if match else None
        ) from None
    r = _Reader(text, path)
    for section, value in data.items():
        if section not in _SECTIONS:
            raise r.fail(f"unknown section [{section}]{suggest(section, list(_SECTIONS))}", section)
        allowed = _SECTIONS[section]
        if allowed is not None and isinstance(value, dict):
            for key in value:
                if key not in allowed:
                    raise r.fail(f"unknown key{suggest(key, allowed)}", section, key)

    meta = data.get("grammar", {})
    max_size = meta.get("max_size", 5)
    if not isinstance(max_size, int) or not 1 <= max_size <= 12:
        raise r.fail(
            f"max_size must be an integer from 1 to 12, but got {max_size!r}", "grammar", "max_size"
        )
    max_depth = meta.get("max_depth")
    if max_depth is not None and (not isinstance(max_depth, int) or max_depth < 1):
        raise r.fail(
            f"max_depth must be a positive integer, but got {max_depth!r}", "grammar", "max_depth"
        )

    primitives: dict[str, sp.Expr] = {}
    for name, definition in data.get("define", {}).items():
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise r.fail("a primitive name must be lowercase letters, digits and _", "define", name)
        if name in OPERATORS or name in CONSTANTS or name == "x":
            raise r.fail(f"{name!r} is already a built-in name", "define", name)
        if not isinstance(definition, str):
            raise r.fail("the definition must be a string expression in x", "define", name)
        try:
            primitives[name] = parse(definition, primitives=primitives)
        except ExpressionError as exc:
            raise r.fail(f"bad definition: {exc}", "define", name) from None

    ops = data.get("operators", {})
    unary = tuple(ops.get("unary", ["erf", "tanh"]))
    known_unary = [n for n, op in OPERATORS.items() if op.arity == 1] + list(primitives)
    for name in unary:
        if name not in known_unary:
            raise r.fail(
                f"unknown unary operator {name!r}{suggest(name, known_unary)}",
                "operators",
                "unary",
                f'"{name}"',
            )
    binary = tuple(ops.get("binary", ["+", "*"]))
    for name in binary:
        if name not in BINARY_OPERATORS:
            raise r.fail(
                f"unknown binary operator {name!r}{suggest(name, BINARY_OPERATORS)}",
                "operators",
                "binary",
                f'"{name}"',
            )
    constants: list[tuple[str, float]] = []
    for value in ops.get("constants", [1]):
        if isinstance(value, str) and value in CONSTANTS:
            constants.append((value, float(CONSTANTS[value])))
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and value != 0:
            constants.append((repr(value), float(value)))
        else:
            raise r.fail(
                f"constants are non-zero numbers, 'pi' or 'e', not {value!r}",
                "operators",
                "constants",
                str(value),
            )

    transforms = data.get("transforms", {})
    variants: list[tuple[str, ...]] = []
    for chain in transforms.get("variants", []):
        steps = tuple(s.strip() for s in str(chain).split("+"))
        for step in steps:
            if step not in TRANSFORMS:
                raise r.fail(
                    f"unknown transform {step!r}{suggest(step, TRANSFORMS)}",
                    "transforms",
                    "variants",
                    f'"{chain}"',
                )
        variants.append(steps)
    clip_scales = tuple(float(s) for s in transforms.get("clip_scales", [1.0]))
    if any(s <= 0 for s in clip_scales):
        raise r.fail("clip_scales must be positive", "transforms", "clip_scales")

    constraints = data.get("constraints", {})
    forbid: dict[str, frozenset[str]] = {}
    for parent, children in constraints.get("forbid_inside", {}).items():
        for name in [parent, *children]:
            if name not in known_unary and name not in BINARY_OPERATORS:
                raise r.fail(
                    f"unknown operator {name!r}{suggest(name, known_unary)}",
                    "constraints",
                    "forbid_inside",
                    name,
                )
        forbid[parent] = frozenset(children)
    max_constants = constraints.get("max_constants")

    require = tuple(data.get("screen", {}).get("require", PROPERTIES))
    for name in require:
        if name not in PROPERTIES:
            raise r.fail(
                f"unknown property {name!r}{suggest(name, PROPERTIES)}", "screen", "require", name
            )

    tol_data: dict[str, Any] = data.get("tolerances", {})
    try:
        tolerances = Tolerances(**tol_data)
    except (TypeError, ValueError) as exc:
        bad = next((k for k in tol_data if k in str(exc)), None)
        raise r.fail(str(exc), "tolerances", bad) from None

    return Grammar(
        name=str(meta.get("name", Path(path).stem)),
        path=path,
        max_size=max_size,
        unary=unary,
        binary=binary,
        constants=tuple(constants),
        primitives=primitives,
        variants=tuple(variants),
        clip_scales=clip_scales,
        forbid_inside=forbid,
        max_depth=max_depth,
        max_constants=max_constants,
        require=require,
        tolerances=tolerances,
        description=str(meta.get("description", "")),
    )
