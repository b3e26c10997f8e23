"""Malformed grammar files: each is one GrammarError naming the file and line, never a
traceback. The cases are the corpus that `derf-search benchmark hostile` runs (search.bench)."""

from __future__ import annotations

import pytest

from candidates import GrammarError, load_grammar, parse_grammar
from search.bench import MALFORMED_GRAMMARS, NON_UTF8_GRAMMARS


@pytest.mark.parametrize(("text", "message"), MALFORMED_GRAMMARS.items())
def test_a_malformed_grammar_is_one_clear_error(text, message):
    with pytest.raises(GrammarError, match=message) as info:
        parse_grammar(text, "g.toml")
    assert str(info.value).startswith("g.toml:")  # file and line


def test_a_grammar_file_that_is_not_utf8_names_its_line(tmp_path):
    path = tmp_path / "g.toml"
    path.write_bytes(NON_UTF8_GRAMMARS[0])
    with pytest.raises(GrammarError, match="not UTF-8") as info:
        load_grammar(path)
    assert f"{path}:3" in str(info.value)


@pytest.mark.parametrize("raw", NON_UTF8_GRAMMARS)
def test_every_non_utf8_file_is_one_line_of_error(tmp_path, raw):
    path = tmp_path / "g.toml"
    path.write_bytes(raw)
    with pytest.raises(GrammarError, match="not UTF-8") as info:
        load_grammar(path)
    assert len(str(info.value).splitlines()) == 1
