"""A griffe extension for the API reference: docstrings written for ``help()`` and doctest,
shown as Markdown.

- a doctest (a run of ``>>>`` lines with their continuations and expected output) becomes a
  fenced ``pycon`` block, wherever it stands in the docstring: left as text, Markdown would
  read its ``>`` as quotes and its lists as links;
- a Sphinx role (``:func:`train```, ``:data:`~search.driver.LOCK_FILE```) becomes inline code.

mkdocs.yml names this file under the Python handler's ``extensions``.

tests/test_docs.py shows an example (a doctest here would read the fenced prompt as its own).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:func|data|class|mod|meth|attr|exc|obj|const):`~?([^`]+)`")
_PROMPT = re.compile(r"^(\s*)>>> ")
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")


def markdown_docstring(text: str) -> str:
    """``text`` with its doctests fenced and its Sphinx roles turned into inline code."""
    lines, out, fenced = text.splitlines(), [], False
    index = 0
    while index < len(lines):
        line = lines[index]
        if _FENCE.match(line):
            fenced = not fenced
        prompt = None if fenced else _PROMPT.match(line)
        if prompt is None:
            out.append(line if fenced else _ROLE.sub(r"`\1`", line))
            index += 1
            continue
        indent = prompt.group(1)
        out.append(f"{indent}```pycon")
        while index < len(lines) and lines[index].strip():
            out.append(lines[index])
            index += 1
        out.append(f"{indent}```")
    return "\n".join(out)


class MarkdownDocstrings(griffe.Extension):
    """Rewrites each docstring with :func:`markdown_docstring` as it is loaded."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown_docstring(obj.docstring.value)
