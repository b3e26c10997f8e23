"""mkdocs hook: links from the documentation to files of the repository outside ``docs/``.

The manual points at committed results (``../results/tabular/README.md``), grammar files and
plots that live beside the code, not under ``docs/``. mkdocs sees only ``docs/``, so such a
link would be broken in the site and ``mkdocs build --strict`` refuses it. This hook makes those
links real instead of silencing the check:

- every relative link (or image) of a page that leaves ``docs/`` must name a file that exists
  in the repository (a folder stands for its ``README.md``); one that does not fails the build,
  naming the page and the link;
- each such file is copied into the site under ``repo/`` with its repository path
  (``repo/results/tabular/README.md``), and the link is rewritten to point there, so mkdocs
  validates it like any other. A Markdown file copied that way is rendered as a page (kept out
  of the navigation), and its own links are followed the same way, so the results' READMEs,
  reports and plots are browsable in the site;
- links from such a page back into ``docs/`` are rewritten to the documentation's pages;
- a line ``<!-- include ../README.md -->`` puts that file in the page, its links rewritten from
  where the file stands (the home page is the README, written once).

Links inside code (fenced blocks and inline code) are left alone, as are absolute URLs and
anchors within a page.

Example:
    >>> outward_targets("See [the table](../results/t.md) and `[x](../y)`.", "docs/a.md")
    ['results/t.md']
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files, InclusionLevel

#: Where files from outside docs/ go in the site.
MIRROR = "repo"

#: The repository root (this file is docs/hooks/repo_links.py).
ROOT = Path(__file__).resolve().parents[2]

#: The target of an inline link or image: what follows ``](`` up to a space or ``)``.
_TARGET = re.compile(r"\]\(\s*<?([^)\s>]+)>?")
_FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(?:.|\n)*?(?<!`)\1(?!`)")
#: A line that stands for a whole file of the repository (the home page shows the README).
INCLUDE = re.compile(r"^<!-- include (\S+) -->$", re.M)
_EXTERNAL = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|#|/)")


def _prose_spans(markdown: str) -> Iterator[tuple[int, int]]:
    """(start, end) of the text outside fenced code blocks."""
    position, start, fence = 0, 0, ""
    for line in markdown.splitlines(keepends=True):
        match = _FENCE.match(line)
        if match and not fence:
            fence = match.group(2)
            yield start, position
        elif match and fence and match.group(2).startswith(fence[0] * len(fence)):
            fence = ""
            start = position + len(line)
        position += len(line)
    if not fence:
        yield start, len(markdown)


def links(markdown: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, target) of every relative link or image target outside code."""
    for begin, end in _prose_spans(markdown):
        text = markdown[begin:end]
        code = [m.span() for m in _CODE_SPAN.finditer(text)]
        for match in _TARGET.finditer(text):
            at = match.start()
            if any(a <= at < b for a, b in code) or _EXTERNAL.match(match.group(1)):
                continue
            yield begin + match.start(1), begin + match.end(1), match.group(1)


def resolve(target: str, page: str) -> tuple[str, str]:
    """A link's target, written in the file at repository path ``page``, as a repository path
    (unchecked) and its anchor."""
    path, _, anchor = target.partition("#")
    return posixpath.normpath(posixpath.join(posixpath.dirname(page), path)), anchor


def existing_file(target: str, page: str) -> tuple[str, str]:
    """:func:`resolve`, a folder taken as its ``README.md``; a target that is no file of the
    repository fails the build."""
    path, anchor = resolve(target, page)
    if path == ".." or path.startswith("../"):
        raise PluginError(f"{page}: the link '{target}' leaves the repository")
    if (ROOT / path).is_dir():
        path = posixpath.join(path, "README.md")
    if not (ROOT / path).is_file():
        raise PluginError(f"{page}: the link '{target}' names no file of the repository")
    return path, anchor


def _inside(path: str, docs_dir: str) -> bool:
    return path.startswith(docs_dir + "/")


def outward_targets(markdown: str, page: str, docs_dir: str = "docs") -> list[str]:
    """The repository paths outside ``docs_dir`` that the file at ``page`` links to
    (unchecked)."""
    paths = (resolve(target, page)[0] for _, _, target in links(markdown))
    return [path for path in paths if not _inside(path, docs_dir)]


def _site_path(repo_path: str, docs_dir: str) -> str:
    """Where a repository file is in the site's source tree."""
    if _inside(repo_path, docs_dir):
        return repo_path[len(docs_dir) + 1 :]
    return f"{MIRROR}/{repo_path}"


def _docs_dir(config: Any) -> str:
    return Path(config["docs_dir"]).resolve().relative_to(ROOT).as_posix()


def _repo_path_of(src_uri: str, docs_dir: str) -> str:
    if src_uri.startswith(MIRROR + "/"):
        return src_uri[len(MIRROR) + 1 :]
    return f"{docs_dir}/{src_uri}"


def _expand(markdown: str, page: str) -> list[tuple[str, str]]:
    """A page's Markdown as (text, repository path its links are relative to) pieces, its
    ``<!-- include PATH -->`` lines replaced by the files they name."""
    pieces, last = [], 0
    for match in INCLUDE.finditer(markdown):
        path, _ = existing_file(match.group(1), page)
        pieces += [(markdown[last : match.start()], page)]
        pieces += [((ROOT / path).read_text(encoding="utf-8"), path)]
        last = match.end()
    return [*pieces, (markdown[last:], page)]


def on_files(files: Files, config: Any, **kwargs: Any) -> Files:
    """Copy every file outside docs/ that a page links to (and, through the Markdown files
    copied, what they link to) into the site."""
    docs_dir = _docs_dir(config)
    queue = [f"{docs_dir}/{f.src_uri}" for f in files if f.is_documentation_page()]
    copied: set[str] = set()
    while queue:
        page = queue.pop()
        for markdown, source in _expand((ROOT / page).read_text(encoding="utf-8"), page):
            for _, _, target in links(markdown):
                if _inside(source, docs_dir) and _inside(resolve(target, source)[0], docs_dir):
                    continue
                path, _ = existing_file(target, source)
                if _inside(path, docs_dir) or path in copied:
                    continue
                copied.add(path)
                if path.endswith(".md"):
                    queue.append(path)
    for path in sorted(copied):
        files.append(
            File.generated(
                config,
                _site_path(path, docs_dir),
                abs_src_path=str(ROOT / path),
                inclusion=InclusionLevel.NOT_IN_NAV,
            )
        )
    return files


def _rewrite(markdown: str, source: str, here: str, docs_dir: str) -> str:
    """``markdown``, written at repository path ``source`` and shown at site path ``here``,
    with each link that leaves docs/ (every link, when ``source`` is outside docs/) pointing
    at the file's place in the site."""
    pieces, last = [], 0
    for start, end, target in links(markdown):
        if _inside(source, docs_dir) and _inside(resolve(target, source)[0], docs_dir):
            continue
        path, anchor = existing_file(target, source)
        new = posixpath.relpath(_site_path(path, docs_dir), posixpath.dirname(here) or ".")
        pieces += [markdown[last:start], new + (f"#{anchor}" if anchor else "")]
        last = end
    return "".join(pieces) + markdown[last:]


def on_page_markdown(markdown: str, page: Any, config: Any, **kwargs: Any) -> str:
    """Put in the files a page includes, and point its links at their places in the site;
    links between documentation pages are mkdocs' to check."""
    docs_dir = _docs_dir(config)
    here = page.file.src_uri
    source = _repo_path_of(here, docs_dir)
    return "".join(
        _rewrite(text, origin, here, docs_dir) for text, origin in _expand(markdown, source)
    )
