"""The fixed corpus of hostile inputs: expressions and grammar files a user could type or write
that must end in one clear error (or a result), never a traceback, a hang or a memory blow-up.

The tests (``tests/hostile``) and ``derf-search benchmark hostile`` read these same lists.

Example:
    >>> cases = hostile_corpus()
    >>> {case.kind for case in cases} == {"expression", "grammar"}
    True
    >>> "x + sqrt(-1)" in HOSTILE_EXPRESSIONS["complex"]
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

Kind = Literal["expression", "grammar", "command"]


@dataclass(frozen=True)
class HostileCase:
    """One hostile input: an expression for `check`, or a grammar file's text (or raw bytes,
    which are written to a file and loaded as a user's file would be)."""

    kind: Kind
    text: str | bytes
    origin: str  # "corpus:<group>" or "random:<seed>:<index>"


#: Expressions, by what makes them hostile. Every one is refused with an ExpressionError.
HOSTILE_EXPRESSIONS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        # Constants that are complex: a real function has no place for them.
        "complex": ("x + sqrt(-1)", "x*log(-2)", "x + (-1)**0.5", "erf(x) + (-8)**(1/3)"),
        # Constants too large to compute: each used to hang (mpmath) or end in a TypeError.
        "huge": (
            "x + exp(exp(exp(100)))",
            "min(exp(exp(exp(100))), 1) + erf(x)",
            "clip(x, -exp(exp(exp(100))), 1)",
            "x + e**(e**(e**5))",
            "x + 9**9**9",
            "x**(10**10)",
            "x + 1e309",
            "x*1e-320",
            "x + " + "9" * 400,
        ),
        # Python that is not arithmetic: nothing is ever evaluated.
        "code": (
            "__import__('os').system('true')",
            "lambda: x",
            "x.__class__.__bases__",
            "().__class__.__base__.__subclasses__()",
            "erf(x) # comment",
            "'x'",
            'f"{x}"',
            "[x]",
            "{x: 1}",
            "x if x else x",
            "x[0]",
            "(y := x)",
            "erf(*[x])",
            "erf(x=1)",
            "eval('x')",
            "open('/etc/passwd')",
            "getattr(x, 'real')",
            "...",
            "None",
            "True + x",
            "1j*x",
            "b'x'",
        ),
        # Broken syntax and unknown names.
        "syntax": (
            "",
            "   ",
            "erf(x",
            "erf x)",
            "((((x)))",
            "x +",
            "x ^ 2",
            "x // 2",
            "x % 2",
            "x @ x",
            "x < 1",
            "x and 1",
            "not x",
            "~x",
            "tahn(x)",
            "erf",
            "y + 1",
            "erf(x, x)",
            "clip(x, 1, -1)",
            "x / 0",
            "1 / (x - x)",
            "0**-1 + x",
            "nan*x",
            "inf + x",
            "x\n+1",
            "x\x00",
            "\\x",
        ),
        # Look-alike letters that Python would fold into ASCII names.
        "unicode": ("ｅｒｆ(ｘ)", "erf(𝐱)", "erf(ⅹ)", "x + ½", "x \u2212 1", "x\u200b"),
        # Inputs at and past the size limits.
        "limits": (
            "(" * 200 + "x" + ")" * 200,
            "erf(" * 40 + "x" + ")" * 40,
            "-" * 500 + "x",
            "+".join(["x"] * 150),
            "x" + "**x" * 40,
            "x" * 2000,
        ),
    }
)

#: Malformed grammar files and the part of the one-line error each must give.
MALFORMED_GRAMMARS: Mapping[str, str] = MappingProxyType(
    {
        "operators = 5": "must be a table",
        '[constraints]\nforbid_inside = ["exp"]': "forbid_inside must be a table",
        '[constraints]\nmax_constants = "many"': "max_constants must be a whole number",
        "tolerances = 5": "must be a table",
        "[constraints]\nforbid_inside = { exp = 5 }": "list of strings",
        "grammar = 5": "must be a table",
        'define = ["a"]': "must be a table",
        '[define]\nbad = "x + sqrt(-1)"': "bad definition",
        "[operators]\nconstants = [1e400]": "constants are finite",
        "[operators]\nconstants = [nan]": "constants are finite",
        "[grammar]\nmax_size = true": "max_size must be an integer",
        '[operators]\nunary = "erf"': "unary must be a list of strings",
        '[transforms]\nclip_scales = ["abc"]': "clip_scales must be a list of positive numbers",
        '[transforms]\nvariants = ["shift+clip+ratio+mirror+shift"]': "at most 4 transforms",
        '[tolerances]\nwindow = "wide"': "window must be a number",
    }
)

#: Grammar files that are not UTF-8 text; the error names the line of the first bad byte.
NON_UTF8_GRAMMARS: tuple[bytes, ...] = (
    b'[grammar]\nmax_size = 3\nname = "\xff"\n',
    b"\xfe\xff\x00[\x00g",
)


def hostile_corpus() -> list[HostileCase]:
    """Every case of the fixed corpus, expressions first."""
    cases = [
        HostileCase("expression", text, f"corpus:{group}")
        for group, texts in HOSTILE_EXPRESSIONS.items()
        for text in texts
    ]
    cases += [HostileCase("grammar", text, "corpus:malformed") for text in MALFORMED_GRAMMARS]
    cases += [HostileCase("grammar", raw, "corpus:non-utf8") for raw in NON_UTF8_GRAMMARS]
    return cases
