"""Malformed grammar files: each is one GrammarError naming the file and line, never a
traceback; grammars whose definitions or spaces explode end fast and in bounded memory. The
cases are the corpus that `derf-search benchmark hostile` runs (search.bench)."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time

import pytest

from candidates import GrammarError, count_space, load_grammar, parse_grammar
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


def _composition_chain(levels: int) -> str:
    """a1 = a0(a0(x)), a2 = a1(a1(x)), …: the count of x squares at every level."""
    lines = ["[define]", 'a0 = "x/sqrt(x**2 + 1)"']
    lines += [f'a{k + 1} = "a{k}(a{k}(x))"' for k in range(levels)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("levels", [4, 5])
def test_a_chain_of_composed_definitions_is_refused_before_it_is_built(levels):
    start = time.perf_counter()
    with pytest.raises(GrammarError, match=r"491,642 nodes, the limit is 2,000") as info:
        parse_grammar(_composition_chain(levels), "g.toml")
    # Four levels took 57 s and 1.2 GB to build, five never ended; the count costs nothing.
    assert time.perf_counter() - start < 2.0
    assert str(info.value).startswith("g.toml:6: key 'define.a4'")


def test_a_short_chain_of_composed_definitions_still_loads():
    grammar = parse_grammar(_composition_chain(3), "g.toml")
    assert set(grammar.primitives) == {"a0", "a1", "a2", "a3"}


def test_definitions_built_on_definitions_too_deep_are_refused():
    lines = ["[define]", 'a0 = "erf(x)"'] + [f'a{k + 1} = "a{k}(x) + 1"' for k in range(9)]
    with pytest.raises(GrammarError, match="9 deep, the limit is 8") as info:
        parse_grammar("\n".join(lines), "g.toml")
    assert str(info.value).startswith("g.toml:10: key 'define.a8'")


def test_a_100_step_variant_chain_is_refused_fast():
    chain = "+".join(["shift", "mirror"] * 50)
    start = time.perf_counter()
    with pytest.raises(GrammarError, match="at most 4 transforms, not 100") as info:
        parse_grammar(f'[grammar]\nmax_size = 3\n[transforms]\nvariants = ["{chain}"]', "g.toml")
    assert time.perf_counter() - start < 1.0
    assert str(info.value).startswith("g.toml:4: key 'transforms.variants'")


def test_variants_that_multiply_through_clip_scales_are_refused():
    scales = ", ".join(str(1 + k / 10) for k in range(10))
    text = f'[transforms]\nvariants = ["clip+clip+clip+clip"]\nclip_scales = [{scales}]'
    with pytest.raises(GrammarError, match=r"10,000 variants.*the limit is 64") as info:
        parse_grammar(text, "g.toml")
    assert str(info.value).startswith("g.toml:2:")


def _limit_memory() -> None:
    gigabytes = 3  # generate at size 8 used to walk the whole space: more than 7 GB
    resource.setrlimit(resource.RLIMIT_AS, (gigabytes << 30, gigabytes << 30))


def test_generate_over_a_huge_space_needs_memory_for_max_expressions_only(tmp_path):
    command = [sys.executable, "-m", "search.cli", "generate", "--max-size", "8"]
    command += ["--max-expressions", "200", "--max-candidates", "4", "--symbolic-seconds", "0"]
    command += ["--workers", "1", "--no-progress", "--json", "--out", str(tmp_path / "run")]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_limit_memory,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    assert summary["enumerated"] == 200 and not summary["complete"]
    assert summary["space_size"] == count_space(load_grammar(), max_size=8).total > 10**9
