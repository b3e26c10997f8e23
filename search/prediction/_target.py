"""The scale a ladder's growth is extrapolated to: ``--target width=768,depth=12,steps=94000``.

The default is ViT-B/16 on ImageNet-1K, the scale of the paper's Section 3 tables: width 768,
depth 12, about 94,000 steps at batch 4,096 (300 epochs of 1.28 M images).

Example:
    >>> parse_target("width=1024, steps=1e5")
    Target(width=1024.0, depth=12.0, steps=100000.0)
    >>> parse_target("widht=1")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    candidates._errors.UserError: not a target axis: 'widht'; did you mean 'width'? ...
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class Target:
    """A model and training scale: the axes a ladder may vary, at the values it predicts."""

    width: float = 768.0
    depth: float = 12.0
    steps: float = 94_000.0

    def text(self) -> str:
        """``width=768,depth=12,steps=94000``: how the option spells it."""
        return ",".join(f"{f.name}={getattr(self, f.name):g}" for f in fields(self))


#: The target's axes, in order.
AXES = tuple(f.name for f in fields(Target))


def parse_target(text: str) -> Target:
    """``KEY=VALUE`` pairs joined by commas over :data:`AXES` (the others keep their
    defaults); each value a finite number ≥ 1. Unknown or repeated axes are refused."""
    from candidates import UserError, suggest  # here: the parser reads the defaults cheaply

    target, seen = Target(), set()
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        key, sep, value = (p.strip() for p in item.partition("="))
        if not sep or not key or not value:
            raise UserError(f"a target is AXIS=VALUE, such as width=768, not {item!r}")
        if key not in AXES:
            raise UserError(
                f"not a target axis: {key!r}{suggest(key, list(AXES))} (known: {', '.join(AXES)})"
            )
        if key in seen:
            raise UserError(f"target axis {key} given twice")
        seen.add(key)
        try:
            number = float(value) if value.isascii() else math.nan
        except ValueError:
            number = math.nan
        if not (math.isfinite(number) and number >= 1):
            raise UserError(f"target {key} must be a finite number ≥ 1, not {value!r}")
        target = replace(target, **{key: number})
    return target
