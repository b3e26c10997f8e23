"""Seeded random hostile inputs: expressions shaped like the expression language (and broken in
the ways users and attackers break it), and grammar files shaped like the default grammar
(with wrong types, wrong values, unknown keys, broken TOML and bytes).

Every draw comes from one :class:`random.Random`, so a seed names a corpus exactly, and the
fuzz tests drive the same generators with hypothesis's own ``Random`` (which shrinks).

Example:
    >>> import random
    >>> a = random_expression(random.Random(7))
    >>> a == random_expression(random.Random(7)) and isinstance(a, str)
    True
    >>> [case.origin for case in random_cases(2, seed=1)]
    ['random:1:0', 'random:1:1']
"""

from __future__ import annotations

import datetime as dt
import random
import string
import sys
from functools import cache
from typing import Any

import tomli_w

from candidates import OPERATORS, load_grammar

from ._hostile_cases import HOSTILE_EXPRESSIONS, HostileCase

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

#: Names a user may call, near misses and names that would be dangerous if ever looked up.
FUNCTION_NAMES = (
    *OPERATORS,
    "tahn",
    "Erf",
    "arctanh",
    "gamma",
    "f",
    "x",
    "pi",
    "eval",
    "exec",
    "open",
    "getattr",
    "__import__",
    "print",
    "sympify",
    "lambda",
)
NUMBERS = (
    "0",
    "1",
    "2",
    "0.5",
    "-1",
    ".5",
    "5.",
    "1_000",
    "0x1F",
    "0o7",
    "0b101",
    "1e6",
    "1000001",
    "1e-6",
    "5e-7",
    "1e308",
    "1e309",
    "1e-320",
    "4.9e-324",
    "1.7976931348623157e308",
    "9" * 60,
    "1j",
    "nan",
    "inf",
    "-0.0",
    "1e",
    "1.2.3",
)
#: The vocabulary the language accepts: trees over it reach the property checks.
VALID_NUMBERS = ("0", "1", "2", "3", "0.5", ".5", "5.", "1_000", "0x1F", "1e6", "1e-6", "0.001")
VALID_ATOMS = ("x", "x", "x", "pi", "e")
VALID_UNARY = ("-", "+")
VALID_BINARY = ("+", "-", "*", "/", "**")
ATOMS = ("x", "x", "x", "pi", "e", "y", "X", "_", "__builtins__", "None", "True", "...", "'x'")
UNARY = ("-", "+", "~", "not ", "--", "- -")
BINARY = (
    "+", "-", "*", "/", "**", "//", "%", "@", "^", "&", "|", "<<", ">>", "<", "==",
    " and ", " or ", " if x else ",
)  # fmt: skip
#: Characters that break brackets, strings, comments and encodings when spliced in anywhere.
SPLICE = "()[]{},.:;'\"#\\\n\t\x00 _=*!?$`" + "ｘ𝐱ⅹ½\u2212\u200b\u00a0é\U0001f600\ud800"
PAYLOADS = HOSTILE_EXPRESSIONS["code"]


def random_expression(rng: random.Random, *, depth: int = 6) -> str:
    """One expression: a random tree over the language's vocabulary, sometimes mutated."""
    roll = rng.random()
    if roll < 0.05:  # arbitrary text
        alphabet = string.printable + SPLICE
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
    if roll < 0.10:  # a long or deep input, at and past the size limits
        unit = rng.choice(["(", "erf(", "-", "x+", "x*", "x**", "sin(", "[", "abs(-"])
        n = rng.choice([30, 33, 100, 199, 201, 400, 1001])
        closing = {"(": ")", "erf(": ")", "sin(": ")", "[": "]", "abs(-": ")"}.get(unit, "")
        return unit * n + "x" + closing * n * rng.randint(0, 1)
    if roll < 0.4:  # in the language's vocabulary: these reach the property checks
        return _tree(rng, depth, valid=True)
    text = _tree(rng, depth, valid=False)
    for _ in range(rng.choice([0, 0, 0, 1, 1, 2, 3])):
        text = _mutate(rng, text)
    return text


def _tree(rng: random.Random, depth: int, *, valid: bool) -> str:
    roll = rng.random()
    if depth <= 0 or roll < 0.3:
        if rng.random() < 0.4:
            return rng.choice(VALID_NUMBERS if valid else NUMBERS)
        return rng.choice(VALID_ATOMS if valid else ATOMS)
    if roll < 0.4:
        return rng.choice(VALID_UNARY if valid else UNARY) + _tree(rng, depth - 1, valid=valid)
    if roll < 0.7:
        left, right = _tree(rng, depth - 1, valid=valid), _tree(rng, depth - 1, valid=valid)
        text = f"{left}{rng.choice(VALID_BINARY if valid else BINARY)}{right}"
        return f"({text})" if rng.random() < 0.5 or valid else text
    if roll < 0.95 or valid:
        name = rng.choice(list(OPERATORS) if valid else FUNCTION_NAMES)
        arity_ok = name in OPERATORS and (valid or rng.random() < 0.8)
        count = OPERATORS[name].arity if arity_ok else rng.randint(0, 4)
        args = [_tree(rng, depth - 1, valid=valid) for _ in range(count)]
        if args and not valid and rng.random() < 0.05:
            args[-1] = rng.choice(["*", "**", "x="]) + args[-1]
        return f"{name}({', '.join(args)})"
    return rng.choice(PAYLOADS)


def _mutate(rng: random.Random, text: str) -> str:
    """Delete, insert, repeat or cut at a random place: unbalanced brackets, stray quotes."""
    at = rng.randint(0, len(text))
    roll = rng.random()
    if roll < 0.3 and text:
        return text[:at] + text[at + 1 :]
    if roll < 0.6:
        return text[:at] + rng.choice(SPLICE) + text[at:]
    if roll < 0.8:
        return text[:at] + rng.choice(PAYLOADS) + text[at:]
    if roll < 0.9:
        return text[:at]
    return text[:at] * rng.randint(2, 4) + text[at:]


@cache
def _default_grammar() -> dict[str, Any]:
    # The built-in default grammar documents every section and key: its shape is the schema.
    with open(load_grammar().path, "rb") as file:
        return tomllib.load(file)


#: TOML values of every type, most of them wrong for any key, a few right for some.
SCALARS: tuple[Any, ...] = (
    0, 1, -1, 12, 13, 2**63 - 1, -(2**63), True, 0.0, -0.0, 1e-300, 1e308,
    float("inf"), float("-inf"), float("nan"), "", "x", "erf", "pi", "+", "shift+mirror",
    "zero_centered", dt.date(2024, 1, 1), dt.time(12, 0),
)  # fmt: skip


def _random_value(rng: random.Random, *, depth: int = 2) -> Any:
    """A TOML value of any type: the wrong type for most keys, sometimes the right one."""
    roll = rng.random()
    if roll < 0.6:
        return rng.choice(SCALARS)
    if roll < 0.7:
        return rng.choice(FUNCTION_NAMES)
    if roll < 0.8 or depth <= 0:
        return random_expression(rng, depth=3)
    if roll < 0.85:
        return []
    if roll < 0.95:
        return [_random_value(rng, depth=depth - 1) for _ in range(rng.randint(1, 4))]
    return {rng.choice(FUNCTION_NAMES): _random_value(rng, depth=depth - 1)}


def random_grammar(rng: random.Random) -> str | bytes:
    """One grammar file: the default grammar with some values replaced, keys added or removed
    and definitions added; sometimes broken as text or given as bytes."""
    rate = rng.choice([0.0, 0.0, 0.02, 0.05, 0.15, 0.4])  # how hostile this file is
    data: dict[str, Any] = {}
    for section, table in _default_grammar().items():
        if rng.random() < rate:
            continue
        data[section] = dict(table)
        for key in list(table):
            roll = rng.random()
            if roll < rate:
                data[section][key] = _random_value(rng)
            elif roll < 1.3 * rate:
                del data[section][key]
        if rng.random() < rate / 2:
            key = rng.choice([*FUNCTION_NAMES, "maxsize", "Unary", ""])  # unknown keys
            data[section][key] = _random_value(rng)
        if rng.random() < rate / 4:
            data[section] = _random_value(rng)
    if isinstance(data.get("define"), dict) and rng.random() < 0.5:
        data["define"].update(_random_defines(rng, list(data["define"]), rate))
    if rng.random() < rate / 4:
        data[rng.choice(["operator", "Grammar", "variants", "x"])] = {"a": _random_value(rng)}
    try:
        text = tomli_w.dumps(data)
    except (TypeError, ValueError):  # a top-level value TOML cannot hold: an empty file
        text = ""
    roll = rng.random()
    if roll < rate / 2:
        lines = text.splitlines()
        if lines:
            i = rng.randrange(len(lines))
            lines.insert(i, rng.choice(lines))  # a duplicated key or table
        return "\n".join(lines)
    if roll < rate:
        at = rng.randint(0, len(text))
        return text[:at] + rng.choice(SPLICE) + text[at:]
    if roll < 1.2 * rate:
        raw = text.encode("utf-8", "surrogatepass")
        at = rng.randint(0, len(raw))
        return raw[:at] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 4))) + raw[at:]
    return text


#: Definitions that parse, for primitives built on each other.
VALID_BODIES = ("erf(x)", "x/(1 + abs(x))", "clip(x, -1, 1)", "tanh(2*x) - x/3", "sin(x)")
#: Ways one primitive uses another: inlining multiplies the size at each level.
CHAINED_BODIES = ("{0}({0}(x))", "{0}(x) + {0}(-x)", "{0}(x)*{0}(x)", "{0}(2*x)", "{0}({0}(x) + 1)")


def _random_defines(rng: random.Random, names: list[str], rate: float) -> dict[str, Any]:
    """User primitives, often built on each other; some names and bodies are bad."""
    defines: dict[str, Any] = {}
    for _ in range(rng.randint(1, 8)):
        name = f"p{len(names)}"
        if rng.random() < rate:
            name = rng.choice(["erf", "x", "pi", "Bad", "a b", "_p", "", "é", *names])
        roll = rng.random()
        if names and roll < 0.6:
            definition: Any = rng.choice(CHAINED_BODIES).format(rng.choice(names))
        elif roll < 0.8:
            definition = rng.choice(VALID_BODIES)
        elif rng.random() > rate:
            definition = random_expression(rng, depth=3)
        else:
            definition = _random_value(rng)
        defines[name] = definition
        names = [*names, name]
    return defines


def random_cases(n: int, *, seed: int = 0) -> list[HostileCase]:
    """``n`` random cases, expressions and grammar files in turn, the same for the same seed."""
    rng = random.Random(seed)
    cases = []
    for i in range(n):
        if i % 2 == 0:
            cases.append(HostileCase("expression", random_expression(rng), f"random:{seed}:{i}"))
        else:
            cases.append(HostileCase("grammar", random_grammar(rng), f"random:{seed}:{i}"))
    return cases
