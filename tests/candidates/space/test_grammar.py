"""Grammar files: the default grammar, user primitives, and errors with file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from candidates import GrammarError, builtin_grammars, count_space, load_grammar, parse_grammar

GOOD = """\
[grammar]
name = "tiny"
max_size = 3

[operators]
unary = ["erf", "satursin"]
binary = ["+", "*"]
constants = [2, "pi"]

[define]
satursin = "sin(clip(x, -pi/2, pi/2))"

[transforms]
variants = ["shift+mirror", "clip"]
clip_scales = [1.0, 2.0]
"""


def test_default_grammar_spans_well_over_100000_expressions() -> None:
    grammar = load_grammar()
    assert "default" in builtin_grammars()
    assert count_space(grammar).total > 100_000


def test_user_primitive_is_usable_and_defined_over_builtins() -> None:
    grammar = parse_grammar(GOOD, "tiny.toml")
    assert grammar.unary == ("erf", "satursin")
    assert str(grammar.primitives["satursin"]) == "sin(Min(pi/2, Max(-pi/2, x)))"
    assert grammar.variants == (("shift", "mirror"), ("clip",))
    assert grammar.clip_scales == (1.0, 2.0)


@pytest.mark.parametrize(
    ("text", "line", "key", "fragment"),
    [
        ('[operators]\nunary = ["erf",\n  "tahn"]\n', 3, "operators.unary", "did you mean 'tanh'"),
        ("[grammar]\nmax_size = 0\n", 2, "grammar.max_size", "from 1 to 12"),
        ("[grammar]\nmax_sise = 4\n", 2, "grammar.max_sise", "did you mean 'max_size'"),
        ("[grammer]\n", 1, "grammer", "did you mean 'grammar'"),
        ('[define]\nbad = "sin(x"\n', 2, "define.bad", "syntax error"),
        ('[define]\nerf = "x"\n', 2, "define.erf", "already a built-in"),
        ('[operators]\nbinary = ["+", "%"]\n', 2, "operators.binary", "unknown binary"),
        ("[operators]\nconstants = [0]\n", 2, "operators.constants", "non-zero"),
        (
            '[transforms]\nvariants = ["shift+mirorr"]\n',
            2,
            "transforms.variants",
            "did you mean 'mirror'",
        ),
        (
            '[screen]\nrequire = ["bounded", "monotone"]\n',
            2,
            "screen.require",
            "did you mean 'monotonic'",
        ),
        ("[tolerances]\nwindow = -1\n", 2, "tolerances.window", "positive"),
        ("[operators\n", 1, None, "invalid TOML"),
    ],
)
def test_errors_name_file_line_and_key(
    text: str, line: int, key: str | None, fragment: str
) -> None:
    with pytest.raises(GrammarError) as info:
        parse_grammar(text, "my.toml")
    err = info.value
    assert err.path == "my.toml" and err.line == line and err.key == key
    assert fragment in str(err)
    assert str(err).startswith(f"my.toml:{line}")


def test_missing_file_suggests_builtin(tmp_path: Path) -> None:
    with pytest.raises(GrammarError, match="did you mean 'default'"):
        load_grammar("defualt")
    path = tmp_path / "g.toml"
    path.write_text(GOOD)
    assert load_grammar(path).name == "tiny"
    assert load_grammar("default").name == "default"
