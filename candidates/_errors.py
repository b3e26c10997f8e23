"""Error types of the candidate engine: one line each, with the place of the mistake."""

from __future__ import annotations

from typing import Any

#: What str.splitlines breaks at: each is written as its escape in an error message.
_LINE_BREAKS: dict[str, str | int | None] = {
    c: repr(c)[1:-1] for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"
}


def one_line(text: str) -> str:
    r"""``text`` with its line breaks escaped: a key, a path or a name a user wrote can hold one.

    >>> one_line("unknown section [\n]")
    'unknown section [\\n]'
    """
    return text.translate(str.maketrans(_LINE_BREAKS))


class UserError(ValueError):
    r"""A mistake in what a user asked for: the command line prints it as one line and exits
    with status 2. Every other exception is a bug and keeps its traceback.

    >>> isinstance(ExpressionError("empty expression", source=""), UserError)
    True
    >>> str(UserError("no such file: a\nb"))
    'no such file: a\\nb'
    """

    def __str__(self) -> str:
        return one_line(super().__str__())


class ExpressionError(UserError):
    """An expression that cannot be parsed or is not allowed.

    ``column`` is 1-based within ``source``; ``origin`` says where the text came from (a grammar
    file and line, say) when it did not come from the command line.

    >>> str(ExpressionError("unknown function 'tahn'", source="tahn(x)", column=1))
    "expression 'tahn(x)', column 1: unknown function 'tahn'"
    """

    def __init__(
        self, message: str, *, source: str, column: int | None = None, origin: str | None = None
    ) -> None:
        self.message = message
        self.source = source
        self.column = column
        self.origin = origin
        super().__init__(str(self))

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only fields: pickle (a Ray worker sending it back) must pass them by name.
        fields = {"source": self.source, "column": self.column, "origin": self.origin}
        return (_rebuild, (type(self), self.message, fields))

    def __str__(self) -> str:
        shown = self.source if len(self.source) <= 80 else self.source[:77] + "..."
        where = f"expression {shown!r}"
        if self.column is not None:
            where += f", column {self.column}"
        if self.origin:
            where = f"{self.origin}: {where}"
        return one_line(f"{where}: {self.message}")


class GrammarError(UserError):
    """A mistake in a grammar file, naming the file, the line and the key.

    >>> str(GrammarError("unknown operator 'tahn'", path="g.toml", line=3, key="unary"))
    "g.toml:3: key 'unary': unknown operator 'tahn'"
    """

    def __init__(
        self, message: str, *, path: str, line: int | None = None, key: str | None = None
    ) -> None:
        self.message = message
        self.path = path
        self.line = line
        self.key = key
        super().__init__(str(self))

    def __reduce__(self) -> tuple[Any, ...]:
        fields = {"path": self.path, "line": self.line, "key": self.key}
        return (_rebuild, (type(self), self.message, fields))

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        if self.key:
            where += f": key {self.key!r}"
        return one_line(f"{where}: {self.message}")


def _rebuild(cls: type[UserError], message: str, fields: dict[str, Any]) -> UserError:
    """An error with keyword-only fields, unpickled."""
    return cls(message, **fields)
