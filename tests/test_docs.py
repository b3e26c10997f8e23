"""The documentation: the site builds with ``mkdocs build --strict`` (no broken link, no missing
page, nothing fetched from the network), the command-line reference holds every option of every
command, the API reference every public name, and the README stays a landing page whose links
resolve."""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from search.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
HOOKS = ROOT / "docs" / "hooks"

#: The packages whose public names (``__all__``) the API reference renders, one page each.
API_PACKAGES = (
    "candidates",
    "evaluators",
    "search",
    "search.driver",
    "search.reports",
    "search.studies",
    "search.calibration",
    "search.prediction",
    "search.bench",
    "search.cli",
)

#: The most lines a landing page may take.
README_LINES = 200

#: Generous: the strict build takes about 20 s on a 2-core machine.
BUILD_TIMEOUT_S = 600


def _hook(name: str) -> ModuleType:
    """A hook module of docs/hooks, loaded by path as mkdocs loads it."""
    spec = importlib.util.spec_from_file_location(f"docs_hook_{name}", HOOKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built once with --strict into a temporary folder."""
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def test_the_site_builds_strict(site: Path) -> None:
    assert (site / "index.html").is_file()
    assert (site / "reference" / "cli" / "index.html").is_file()
    # a file outside docs/ that a page links to is copied into the site, not left dangling
    assert (site / "repo" / "results" / "tabular" / "index.html").is_file()


def test_the_build_reaches_no_network() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    assert config["theme"]["font"] is False  # no web fonts
    plugins = {next(iter(p)) if isinstance(p, dict) else p for p in config["plugins"]}
    assert plugins <= {"search", "mkdocstrings"}  # no social, privacy or blog plugin
    python = config["plugins"][1]["mkdocstrings"]["handlers"]["python"]
    assert "inventories" not in python and "import" not in python


def test_the_cli_reference_holds_every_option_of_every_command(site: Path) -> None:
    cli_reference = _hook("cli_reference")
    parser = build_parser()
    text = cli_reference.render_cli_reference(parser)
    sections = dict(
        re.findall(r"^## `([^`]+)` \{#[^}]+\}\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S)
    )
    commands = [(parser.prog, parser), *((p, c) for p, _, c in cli_reference.subcommands(parser))]
    assert len(commands) > 10
    for path, command in commands:
        assert path in sections, f"no section for {path}"
        for option in cli_reference.option_strings(command):
            assert option in sections[path], f"{path}: {option} is not in the reference"
    page = (site / "reference" / "cli" / "index.html").read_text()
    assert cli_reference.MARKER not in page
    assert "--max-trials" in page and "derf-search calibrate" in page


def test_the_api_reference_holds_every_public_name(site: Path) -> None:
    for package in API_PACKAGES:
        page = (site / "reference" / "api" / package / "index.html").read_text()
        anchors = set(re.findall(r'id="([^"]+)"', page))
        names = importlib.import_module(package).__all__
        missing = [name for name in names if f"{package}.{name}" not in anchors]
        assert not missing, f"{package}: {missing} are not in the API reference"


def test_the_readme_is_a_landing_page() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= README_LINES, f"README.md has {len(lines)} lines"


def _slug(heading: str) -> str:
    """A heading's anchor, as Python-Markdown's table of contents makes it."""
    text = unicodedata.normalize("NFKD", heading).encode("ascii", "ignore").decode()
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def _anchors(markdown: Path) -> set[str]:
    return {_slug(h) for h in re.findall(r"^#{1,6} (.+)$", markdown.read_text(), flags=re.M)}


def test_the_readme_links_resolve() -> None:
    repo_links = _hook("repo_links")
    readme = ROOT / "README.md"
    targets = [target for _, _, target in repo_links.links(readme.read_text())]
    assert len(targets) > 10
    for target in targets:
        path, _, anchor = target.partition("#")
        file = (ROOT / path) if path else readme
        assert file.exists(), f"README.md links to {target}, which does not exist"
        if anchor:
            assert anchor in _anchors(file), f"README.md links to {target}: no such heading"


def test_a_link_to_a_missing_file_fails_the_build() -> None:
    repo_links = _hook("repo_links")
    with pytest.raises(repo_links.PluginError, match="names no file"):
        repo_links.existing_file("../results/no-such-run/README.md", "docs/index.md")
    assert repo_links.existing_file("../results/tabular/", "docs/index.md") == (
        "results/tabular/README.md",
        "",
    )


def test_doctests_in_docstrings_are_shown_as_code() -> None:
    markdown_docstring = _hook("griffe_docstrings").markdown_docstring
    text = "Say hi.\n\n>>> hi()\n'hi'\n\nThen :func:`bye` and :data:`~search.LIMIT`."
    assert markdown_docstring(text).splitlines() == [
        "Say hi.",
        "",
        "```pycon",
        ">>> hi()",
        "'hi'",
        "```",
        "",
        "Then `bye` and `search.LIMIT`.",
    ]


@pytest.mark.parametrize("name", ["cli_reference", "repo_links"])
def test_the_hooks_examples_hold(name: str) -> None:
    result = doctest.testmod(_hook(name))
    assert result.failed == 0
