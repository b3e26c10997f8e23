"""Grammar files: which primitives, constants, transforms and limits span a search space.

A grammar is a TOML file (see ``candidates/grammars/default.toml``, which documents every key).
Mistakes are reported as :class:`GrammarError` with the file, the line and the key.

Example:
    >>> g = load_grammar()            # the built-in default grammar
    >>> g.max_size, "satursin" in g.primitives
    (5, True)
"""

from __future__ import annotations

import ast
import math
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import sympy as sp

from .._errors import ExpressionError, GrammarError
from ..checks import PROPERTIES, Tolerances
from ..expr import CONSTANTS, DEFAULT_LIMITS, OPERATORS, called_names, parse, suggest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

GRAMMAR_DIR = Path(__file__).parents[1] / "grammars"
BINARY_OPERATORS = ("+", "-", "*", "/", "**", "min", "max")
#: Binary operators whose operands commute: the space holds one order of each pair.
COMMUTATIVE = frozenset({"+", "*", "min", "max"})
TRANSFORMS = ("shift", "mirror", "clip", "ratio")
#: The longest chain of transforms a variant may apply (each multiplies the space).
MAX_TRANSFORM_CHAIN = 4
#: The most variants a grammar may screen per raw function, counting one per clip scale for
#: each clip in a chain ("clip+clip" with 10 scales is 100); each is a full pass of the screen.
MAX_VARIANTS = 64
#: The most nodes a definition may have once the definitions it calls are inlined. Candidates
#: nest primitives (p(p(x)) copies p once per x in it), so a primitive must stay small.
MAX_DEFINE_NODES = 2000
#: How deep definitions may build on definitions (b = "a(x) + 1" is 2 deep).
MAX_DEFINE_NESTING = 8
_DEFINE_LIMITS = replace(DEFAULT_LIMITS, max_inlined_nodes=MAX_DEFINE_NODES)
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
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise GrammarError("not UTF-8 text", path=str(path), line=line) from None
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
    """Parse grammar TOML text; ``path`` is used in error messages. Every section is checked
    for its keys and their types before it is used, so a malformed file is one
    :class:`GrammarError` with its line, never a traceback."""
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
        if not isinstance(value, dict):
            raise r.fail(f"[{section}] must be a table, not {type(value).__name__}", section)
        allowed = _SECTIONS[section]
        if allowed is not None:
            for key in value:
                if key not in allowed:
                    raise r.fail(f"unknown key{suggest(key, allowed)}", section, key)
    meta = data.get("grammar", {})
    max_size, max_depth = _read_limits(r, meta)
    primitives = _read_defines(r, data.get("define", {}))
    unary, binary, constants = _read_operators(r, data.get("operators", {}), primitives)
    variants, clip_scales = _read_transforms(r, data.get("transforms", {}))
    known = [*unary_names(primitives), *BINARY_OPERATORS]
    forbid, max_constants = _read_constraints(r, data.get("constraints", {}), known)
    return Grammar(
        name=str(meta.get("name", Path(path).stem)),
        path=path,
        max_size=max_size,
        unary=unary,
        binary=binary,
        constants=constants,
        primitives=primitives,
        variants=variants,
        clip_scales=clip_scales,
        forbid_inside=forbid,
        max_depth=max_depth,
        max_constants=max_constants,
        require=_read_require(r, data.get("screen", {})),
        tolerances=_read_tolerances(r, data.get("tolerances", {})),
        description=str(meta.get("description", "")),
    )


def unary_names(primitives: Mapping[str, sp.Expr]) -> list[str]:
    """The unary operators a grammar may use: the built-in ones and its own primitives."""
    return [n for n, op in OPERATORS.items() if op.arity == 1] + list(primitives)


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _strings(r: _Reader, value: Any, section: str, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise r.fail(f"{key} must be a list of strings, not {value!r}", section, key)
    return value


def _read_limits(r: _Reader, meta: dict[str, Any]) -> tuple[int, int | None]:
    max_size = meta.get("max_size", 5)
    if not _positive_int(max_size) or max_size > 12:
        raise r.fail(
            f"max_size must be an integer from 1 to 12, but got {max_size!r}", "grammar", "max_size"
        )
    max_depth = meta.get("max_depth")
    if max_depth is not None and not _positive_int(max_depth):
        raise r.fail(
            f"max_depth must be a positive integer, but got {max_depth!r}", "grammar", "max_depth"
        )
    return max_size, max_depth


def _read_defines(r: _Reader, defines: dict[str, Any]) -> dict[str, sp.Expr]:
    """The [define] table, each definition parsed with the ones above it as primitives.

    Its size once inlined is counted before sympy builds it (see :data:`MAX_DEFINE_NODES`):
    a chain a1 = "a0(a0(x))", a2 = "a1(a1(x))", … squares the count of x at every step.
    """
    primitives: dict[str, sp.Expr] = {}
    nesting: dict[str, int] = {}
    for name, definition in defines.items():
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise r.fail("a primitive name must be lowercase letters, digits and _", "define", name)
        if name in OPERATORS or name in CONSTANTS or name == "x":
            raise r.fail(f"{name!r} is already a built-in name", "define", name)
        if not isinstance(definition, str):
            raise r.fail("the definition must be a string expression in x", "define", name)
        try:
            primitives[name] = parse(definition, primitives=primitives, limits=_DEFINE_LIMITS)
        except ExpressionError as exc:
            raise r.fail(f"bad definition: {exc}", "define", name) from None
        # parse() accepted the text: ast.parse of it is safe and cheap.
        called = called_names(ast.parse(definition.strip(), mode="eval")) & set(nesting)
        nesting[name] = 1 + max((nesting[n] for n in called), default=0)
        if nesting[name] > MAX_DEFINE_NESTING:
            raise r.fail(
                f"definitions built on definitions {nesting[name]} deep, the limit is "
                f"{MAX_DEFINE_NESTING}",
                "define",
                name,
            )
    return primitives


def _read_operators(
    r: _Reader, ops: dict[str, Any], primitives: Mapping[str, sp.Expr]
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[tuple[str, float], ...]]:
    unary = tuple(_strings(r, ops.get("unary", ["erf", "tanh"]), "operators", "unary"))
    known_unary = unary_names(primitives)
    for name in unary:
        if name not in known_unary:
            raise r.fail(
                f"unknown unary operator {name!r}{suggest(name, known_unary)}",
                "operators",
                "unary",
                f'"{name}"',
            )
    binary = tuple(_strings(r, ops.get("binary", ["+", "*"]), "operators", "binary"))
    for name in binary:
        if name not in BINARY_OPERATORS:
            raise r.fail(
                f"unknown binary operator {name!r}{suggest(name, BINARY_OPERATORS)}",
                "operators",
                "binary",
                f'"{name}"',
            )
    values = ops.get("constants", [1])
    if not isinstance(values, list):
        raise r.fail(f"constants must be a list, not {values!r}", "operators", "constants")
    constants: list[tuple[str, float]] = []
    for value in values:
        if isinstance(value, str) and value in CONSTANTS:
            constants.append((value, float(CONSTANTS[value])))
        elif (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and value != 0
            and math.isfinite(value)
            and abs(value) <= DEFAULT_LIMITS.max_constant
        ):
            constants.append((repr(value), float(value)))
        else:
            raise r.fail(
                "constants are finite non-zero numbers of size at most "
                f"{DEFAULT_LIMITS.max_constant:g}, 'pi' or 'e', not {value!r}",
                "operators",
                "constants",
                str(value),
            )
    return unary, binary, tuple(constants)


def _read_transforms(
    r: _Reader, transforms: dict[str, Any]
) -> tuple[tuple[tuple[str, ...], ...], tuple[float, ...]]:
    variants: list[tuple[str, ...]] = []
    for chain in _strings(r, transforms.get("variants", []), "transforms", "variants"):
        steps = tuple(s.strip() for s in chain.split("+"))
        if len(steps) > MAX_TRANSFORM_CHAIN:
            raise r.fail(
                f"a chain of at most {MAX_TRANSFORM_CHAIN} transforms, not {len(steps)}",
                "transforms",
                "variants",
                f'"{chain}"',
            )
        for step in steps:
            if step not in TRANSFORMS:
                raise r.fail(
                    f"unknown transform {step!r}{suggest(step, TRANSFORMS)}",
                    "transforms",
                    "variants",
                    f'"{chain}"',
                )
        variants.append(steps)
    scales = transforms.get("clip_scales", [1.0])
    if not isinstance(scales, list) or not all(
        isinstance(s, (int, float)) and not isinstance(s, bool) and math.isfinite(s) and s > 0
        for s in scales
    ):
        raise r.fail(
            f"clip_scales must be a list of positive numbers, not {scales!r}",
            "transforms",
            "clip_scales",
        )
    count = variant_count(variants, len(scales))
    if count > MAX_VARIANTS:
        raise r.fail(
            f"{count:,} variants (one per clip scale for each clip in a chain), the limit is "
            f"{MAX_VARIANTS}",
            "transforms",
            "variants",
        )
    return tuple(variants), tuple(float(s) for s in scales)


def variant_count(variants: Sequence[tuple[str, ...]], scales: int) -> int:
    """How many variants the chains expand to: a clip step is one variant per clip scale.

    >>> variant_count([("shift",), ("clip", "ratio"), ("clip", "clip")], scales=3)
    13
    """
    return sum(math.prod(scales if step == "clip" else 1 for step in chain) for chain in variants)


def _read_constraints(
    r: _Reader, constraints: dict[str, Any], known: list[str]
) -> tuple[dict[str, frozenset[str]], int | None]:
    table = constraints.get("forbid_inside", {})
    if not isinstance(table, dict):
        raise r.fail(
            f'forbid_inside must be a table such as {{ exp = ["exp"] }}, not {table!r}',
            "constraints",
            "forbid_inside",
        )
    forbid: dict[str, frozenset[str]] = {}
    for parent, children in table.items():
        for name in [parent, *_strings(r, children, "constraints", "forbid_inside")]:
            if name not in known:
                raise r.fail(
                    f"unknown operator {name!r}{suggest(name, known)}",
                    "constraints",
                    "forbid_inside",
                    name,
                )
        forbid[parent] = frozenset(children)
    max_constants = constraints.get("max_constants")
    if max_constants is not None and not (
        isinstance(max_constants, int)
        and not isinstance(max_constants, bool)
        and max_constants >= 0
    ):
        raise r.fail(
            f"max_constants must be a whole number >= 0, not {max_constants!r}",
            "constraints",
            "max_constants",
        )
    return forbid, max_constants


def _read_require(r: _Reader, screen: dict[str, Any]) -> tuple[str, ...]:
    require = tuple(_strings(r, screen.get("require", list(PROPERTIES)), "screen", "require"))
    for name in require:
        if name not in PROPERTIES:
            raise r.fail(
                f"unknown property {name!r}{suggest(name, PROPERTIES)}", "screen", "require", name
            )
    return require


def _read_tolerances(r: _Reader, tol_data: dict[str, Any]) -> Tolerances:
    for key, value in tol_data.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise r.fail(f"{key} must be a number, not {value!r}", "tolerances", key)
    try:
        return Tolerances(**tol_data)
    except (TypeError, ValueError) as exc:
        bad = next((k for k in tol_data if k in str(exc)), None)
        raise r.fail(str(exc), "tolerances", bad) from None
