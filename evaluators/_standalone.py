"""The source of a standalone, torch-only module equivalent to a :class:`PointwiseNorm`.

The layer owns its export: :func:`standalone_source` writes the same template, y = γ ⊙ f(α·x +
s) + β, with f as torch code that performs the operations :func:`candidates.compile_torch`
performs, in the same order, and the parameter names of :class:`PointwiseNorm` (``alpha``,
``shift``, ``weight``, ``bias``), so state dicts load either way. :func:`check_standalone`
proves it before anything is written: the text compiles, holds exactly the statements this
module writes (no text from a user can have become code), and the module it defines gives
bit-identical outputs and gradients to :class:`PointwiseNorm` on a seeded tensor.

Every piece of text that comes from a user or a run — the expression, its LaTeX, the notes —
enters the source only through :func:`repr`: as data, never as code.

Example:
    >>> from candidates import Candidate
    >>> text = standalone_source(Candidate.from_text("isru"), alpha0=0.5, shift="scalar")
    >>> check_standalone(text, Candidate.from_text("isru"), alpha0=0.5, shift="scalar")
    'IsruNorm'
"""

from __future__ import annotations

import ast
import keyword
import re
import types
from collections.abc import Sequence

import torch

from candidates import (
    TORCH_HELPERS,
    Candidate,
    Shift,
    UserError,
    catalog_name,
    parse_shift,
    to_torch_source,
)

from ._layer import MAX_SLOPE, PointwiseNorm, needs_safe_gradient

_BODY = '''
from __future__ import annotations

import torch
from torch import nn

EXPRESSION = {expression!r}
LATEX = {latex!r}
CANDIDATE_ID = {cid!r}
ALPHA0 = {alpha0!r}
SHIFT = {shift!r}
#: Where the slope of f is infinite or undefined (|x|^p, p < 1, at 0) it is replaced by a
#: finite value, as during the search, so that gradients stay finite.
SAFE_SLOPE = {safe!r}
MAX_SLOPE = {max_slope!r}
{helpers}

def f(x: torch.Tensor) -> torch.Tensor:
    """The point-wise function; EXPRESSION holds it as text."""
    out = {source}
    if not isinstance(out, torch.Tensor):  # a constant function still returns a tensor
        out = torch.full_like(x, out)
    return out


class _SafeSlope(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z):
        ctx.save_for_backward(z)
        return f(z)

    @staticmethod
    def backward(ctx, grad):
        (z,) = ctx.saved_tensors
        with torch.enable_grad():
            leaf = z.detach().requires_grad_(True)
            (slope,) = torch.autograd.grad(f(leaf).sum(), leaf)
        slope = torch.nan_to_num(slope, nan=0.0, posinf=MAX_SLOPE, neginf=-MAX_SLOPE)
        return grad * slope.clamp(-MAX_SLOPE, MAX_SLOPE)


class {cls}(nn.Module):
    """y = gamma * f(alpha * x + s) + beta over the last (channel) dimension."""

    def __init__(self, num_features: int, *, alpha0: float = ALPHA0, shift: str = SHIFT,
                 channels_last: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        kw = {{"device": device, "dtype": dtype}}
        self.num_features = num_features
        self.channels_last = channels_last
        self.alpha = nn.Parameter(torch.full((1,), float(alpha0), **kw))
        if shift == "scalar":
            self.shift = nn.Parameter(torch.zeros(1, **kw))
        elif shift == "vector":
            self.shift = nn.Parameter(torch.zeros(num_features, **kw))
        elif shift in ("none", None):
            self.register_parameter("shift", None)
        else:
            raise ValueError(f"shift must be 'scalar', 'vector' or 'none', but got {{shift!r}}")
        self.weight = nn.Parameter(torch.ones(num_features, **kw))
        self.bias = nn.Parameter(torch.zeros(num_features, **kw))

    def _channel(self, p: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last or p.numel() == 1:
            return p
        return p.view(1, -1, *([1] * (x.dim() - 2)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.alpha * x
        if self.shift is not None:
            z = z + self._channel(self.shift, x)
        y = _SafeSlope.apply(z) if SAFE_SLOPE else f(z)
        return y * self._channel(self.weight, x) + self._channel(self.bias, x)

    def extra_repr(self) -> str:
        return f"{{self.num_features}}, f={{EXPRESSION}}"


Norm = {cls}
'''


class ExportError(UserError):
    """A module that cannot be written: it would not be equivalent to the search's layer."""


def class_name(candidate: Candidate) -> str:
    """``IsruNorm`` for a named candidate or a catalog function by another spelling,
    ``Candidate_<id>_Norm`` otherwise: always a plain identifier, whatever the name was.

    >>> class_name(Candidate.from_text("x/(1 + abs(x))"))
    'SmoothsignNorm'
    >>> class_name(Candidate.from_text("x/(1 + x**2)"))
    'Candidate_c7238dbc7a32_Norm'
    """
    words = re.findall(r"[A-Za-z0-9]+", candidate.name or catalog_name(candidate.id) or "")
    name = "".join(w[:1].upper() + w[1:] for w in words)
    if not name or not name[0].isalpha():
        name = f"Candidate_{candidate.id}_"
    name += "Norm"
    assert name.isidentifier() and not keyword.iskeyword(name) and name.isascii()
    return name


def _docstring(candidate: Candidate, cls: str, shift: Shift, notes: Sequence[str]) -> str:
    shift_text = {
        "scalar": "a learnable scalar",
        "vector": "a learnable per-channel vector",
        "none": "absent (DyT-style)",
    }[shift]
    lines = [
        f"{cls}: a point-wise replacement for LayerNorm found with derf-search.",
        "",
        "y = gamma * f(alpha * x + s) + beta over the last (channel) dimension, with",
        "",
        f"    f(x) = {candidate.source}",
        f"    LaTeX: {candidate.latex}",
        "",
        f"alpha is a learnable scalar (init ALPHA0), s is {shift_text}, gamma and beta",
        "learnable per-channel vectors (init 1 and 0). Parameter names match derf-search's",
        "PointwiseNorm (alpha, shift, weight, bias). Needs only torch.",
        *(["", *notes] if notes else []),
        "",
        "Example:",
        f"    >>> layer = {cls}(64)",
        "    >>> layer(torch.randn(2, 5, 64)).shape",
        "    torch.Size([2, 5, 64])",
        "",
    ]
    return "\n".join(lines)


def standalone_source(
    candidate: Candidate,
    *,
    alpha0: float,
    shift: Shift | str,
    notes: Sequence[str] = (),
) -> str:
    """The Python source of a torch-only module for ``candidate`` in the template, with
    ``alpha0`` and ``shift`` as its defaults and ``notes`` (lines of text, e.g. leaderboard
    figures) in its docstring. The expression is written in its canonical printed form."""
    kind = parse_shift(shift)
    cls = class_name(candidate)
    body = _BODY.format(
        expression=candidate.source,
        latex=candidate.latex,
        cid=candidate.id,
        alpha0=float(alpha0),
        shift=kind,
        safe=needs_safe_gradient(candidate.sympy),
        max_slope=MAX_SLOPE,
        helpers=TORCH_HELPERS,
        source=to_torch_source(candidate.sympy),
        cls=cls,
    )
    return string_literal(_docstring(candidate, cls, kind, [str(n) for n in notes])) + body


def string_literal(text: str) -> str:
    """A triple-quoted Python literal whose value is exactly ``text``, whatever it holds: every
    backslash and quote is escaped (so no quote can end it early) and every character that is
    not printable is written as an escape; new lines stay new lines, for a readable docstring.

    >>> import ast
    >>> hostile = "erf(x) # " + chr(34) * 3 + "; __import__('os') " + chr(92) + chr(13)
    >>> ast.literal_eval(string_literal(hostile)) == hostile
    True
    """
    out = []
    for char in text:
        if char == "\\":
            out.append("\\\\")
        elif char == '"':
            out.append('\\"')
        elif char == "\n" or char.isprintable():
            out.append(char)
        else:
            out.append(char.encode("unicode_escape").decode("ascii"))
    return '"""' + "".join(out) + '"""'


def _identical(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Bit for bit, nan equal to nan (a function undefined somewhere is so in both)."""
    same_nan = torch.equal(torch.isnan(a), torch.isnan(b))
    return same_nan and torch.equal(torch.nan_to_num(a, nan=0.0), torch.nan_to_num(b, nan=0.0))


def check_standalone(
    text: str, candidate: Candidate, *, alpha0: float, shift: Shift | str, seed: int = 0
) -> str:
    """Prove that ``text`` (from :func:`standalone_source`) is the module it should be; returns
    its class name or raises :class:`ExportError`.

    1. It parses, its first statement is a plain string (the docstring), and every other
       statement is, node for node, what :func:`standalone_source` writes for this
       candidate, α0 and shift — checked before anything runs.
    2. The module, run in a namespace of its own, and :class:`PointwiseNorm` with the same
       parameters give bit-identical outputs and gradients on a seeded tensor (exact zeros
       included, where slopes can be infinite; nan where the function has no value counts
       as equal to nan).
    """
    kind = parse_shift(shift)
    cls = class_name(candidate)
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        raise ExportError(f"the module for {candidate.source!r} does not compile: {exc}") from None
    expected = ast.parse(standalone_source(candidate, alpha0=alpha0, shift=kind))
    if (
        ast.get_docstring(tree, clean=False) is None
        or len(tree.body) != len(expected.body)
        or any(
            ast.dump(mine) != ast.dump(theirs)
            for mine, theirs in zip(tree.body[1:], expected.body[1:], strict=True)
        )
    ):
        raise ExportError(f"the module for {candidate.source!r} is not the expected module")
    module = types.ModuleType(f"derf_export_{candidate.id}")
    exec(compile(tree, f"<export of {candidate.id}>", "exec"), module.__dict__)
    exported = getattr(module, cls)(8, alpha0=alpha0, shift=kind)
    reference = PointwiseNorm(8, candidate, alpha0=alpha0, shift=kind)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in reference.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=generator))
    exported.load_state_dict(reference.state_dict())
    x = 3 * torch.randn(3, 5, 8, generator=generator)
    x[0, 0, :4] = torch.tensor([0.0, -0.0, 1e-30, -2.0])
    xa, xb = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    ya, yb = exported(xa), reference(xb)
    same = _identical(ya, yb)
    if same:
        ya.square().sum().backward()
        yb.square().sum().backward()
        pairs = [(xa, xb), *zip(exported.parameters(), reference.parameters(), strict=True)]
        same = all(
            a.grad is not None and b.grad is not None and _identical(a.grad, b.grad)
            for a, b in pairs
        )
    if not same:
        raise ExportError(
            f"the module for {candidate.source!r} does not reproduce PointwiseNorm bit for bit"
        )
    return cls
