"""Malformed grammar files: each is one GrammarError naming the file and line, never a
traceback."""

from __future__ import annotations

import pytest

from candidates import GrammarError, load_grammar, parse_grammar

MALFORMED = {
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


@pytest.mark.parametrize(("text", "message"), MALFORMED.items())
def test_a_malformed_grammar_is_one_clear_error(text, message):
    with pytest.raises(GrammarError, match=message) as info:
        parse_grammar(text, "g.toml")
    assert str(info.value).startswith("g.toml:")  # file and line


def test_a_grammar_file_that_is_not_utf8_names_its_line(tmp_path):
    path = tmp_path / "g.toml"
    path.write_bytes(b'[grammar]\nmax_size = 3\nname = "\xff"\n')
    with pytest.raises(GrammarError, match="not UTF-8") as info:
        load_grammar(path)
    assert f"{path}:3" in str(info.value)
