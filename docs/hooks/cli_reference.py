"""mkdocs hook: the command-line reference, rendered from the parser the command itself uses
(:func:`search.cli.build_parser`), so that it cannot drift from the code.

A page that holds the marker line ``<!-- cli-reference -->`` gets, in its place, every command
and subcommand of ``derf-search``: its one-line help, its usage, its description and every
option, as ``--help`` prints them at a fixed width. ``tests/test_docs.py`` calls
:func:`render_cli_reference` too, and checks that every option string of every parser is in it.

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="tool")
    >>> _ = parser.add_subparsers(dest="command").add_parser("go", help="go somewhere")
    >>> print(render_cli_reference(parser).splitlines()[0])
    | command | what it does |
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Iterator
from typing import Any

#: The line a page holds where the reference goes.
MARKER = "<!-- cli-reference -->"

#: The width the help is wrapped at, whatever the terminal that builds the site.
WIDTH = 100


def subcommands(
    parser: argparse.ArgumentParser, prefix: str = ""
) -> Iterator[tuple[str, str, argparse.ArgumentParser]]:
    """Every (sub)parser under ``parser``, depth first: (its command line, its help, it).

    argparse keeps subcommands in its (private) action list; there is no public way to walk it.
    """
    name = prefix or parser.prog
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
        for command, child in action.choices.items():
            path = f"{name} {command}"
            yield path, helps.get(command, ""), child
            yield from subcommands(child, path)


def option_strings(parser: argparse.ArgumentParser) -> list[str]:
    """Every option string of ``parser`` itself (``-h``, ``--help``, ``--task``, …)."""
    return [s for action in parser._actions for s in action.option_strings]


def help_text(parser: argparse.ArgumentParser) -> str:
    """``parser``'s ``--help``, wrapped at :data:`WIDTH` columns."""
    original = parser.formatter_class
    formatter: Any = functools.partial(original, width=WIDTH)
    parser.formatter_class = formatter
    try:
        return parser.format_help().rstrip()
    finally:
        parser.formatter_class = original


def render_cli_reference(parser: argparse.ArgumentParser | None = None) -> str:
    """The reference as Markdown: a table of the commands, then one section per command."""
    if parser is None:
        from search.cli import build_parser

        parser = build_parser()
    commands = list(subcommands(parser))
    lines = ["| command | what it does |", "|---|---|"]
    for path, help_line, _ in commands:
        anchor = path.replace(" ", "-")
        escaped = help_line.replace("|", "\\|")
        lines.append(f"| [`{path}`](#{anchor}) | {escaped} |")
    sections = [(parser.prog, "", parser), *commands]
    for path, help_line, child in sections:
        anchor = path.replace(" ", "-")
        lines += ["", f"## `{path}` {{#{anchor}}}", ""]
        if help_line:
            sentence = help_line[:1].upper() + help_line[1:]
            lines += [sentence if sentence.endswith(".") else sentence + ".", ""]
        lines += ["```text", help_text(child), "```"]
    return "\n".join(lines) + "\n"


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """mkdocs event: put the reference where a page holds :data:`MARKER`."""
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, render_cli_reference())
