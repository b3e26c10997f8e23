"""A reference table of full-scale outcomes, and the categories of its cells.

A reference is a CSV file with the columns ``table, property, base, variant, lam, value``: one
full-scale training per row. ``base`` is f (a catalog name such as ``erf`` or an expression in
x), ``variant`` says what λ does to it (:data:`VARIANTS`), ``value`` is the metric (higher is
better unless the caller says otherwise), empty when the training failed. The paper's Section 3
ships as ``results/reference/paper-section3.csv``; a user's own table has the same schema.

Each cell falls in a category (:data:`CATEGORIES`) by comparison with its **reference cells**:
the row's own identity cell (λ = 0, or unclipped), −f's f, and otherwise — for rows without
one, or whose identity cell failed — the identity cells of the anchor bases erf, tanh and
arctan (of the same table when it has them). FAIL: the training failed; DEGRADE: at least
``degrade_points`` below the mean of its reference cells; FINE otherwise.

Example:
    >>> cells = read_reference(PAPER_REFERENCE)
    >>> len(cells), cells[0].key, cells[0].expression
    (123, 'T1:erf:hshift:-2', 'erf(-2 + x)')
    >>> categories = reference_categories(cells)
    >>> [categories[c.key] for c in cells if c.table == "T5" and c.base == "erf"]
    ['FINE', 'FINE', 'FINE', 'DEGRADE', 'DEGRADE', 'FAIL']
"""

from __future__ import annotations

import csv
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from candidates import (
    FRACTION,
    POSITIVE,
    PROPERTIES,
    Candidate,
    ExpressionError,
    NumberRange,
    UserError,
    catalog_names,
    find_entry,
    parse,
    suggest,
    to_source,
)

from ..driver import DEGRADE_POINTS

#: The paper's Section 3 ablations (ImageNet-1K ViT-B top-1): package data, linked from
#: ``results/reference/`` where its README cites the source.
PAPER_REFERENCE = Path(__file__).with_name("paper-section3.csv")
COLUMNS = ("table", "property", "base", "variant", "lam", "value")
Category = Literal["FAIL", "DEGRADE", "FINE"]
CATEGORIES: tuple[Category, ...] = ("FAIL", "DEGRADE", "FINE")
#: Bases whose identity cells are the reference of rows that have none.
ANCHOR_BASES = ("erf", "tanh", "arctan")


#: Any finite number: a λ that no variant restricts.
ANY_NUMBER = NumberRange()


@dataclass(frozen=True)
class Variant:
    """What λ does to a base f: an expression over ``f`` and ``lam``, the λ it takes, where it
    is f itself, and the variant whose cell of the same base it is compared with."""

    template: str
    lam: Literal["none", "required", "optional"]  # optional: an empty λ is f (unclipped)
    identity: Literal["without lam", "at zero", "never"]  # where the variant is f itself
    lam_range: NumberRange = ANY_NUMBER  # the λ it means: a bound is positive, a mix a share
    compared_with: str | None = None  # the variant of the same base's reference cell


#: The variants of a reference row. ``flat`` is 0 on [−λ, λ] with the branches shifted outward
#: (for an odd, increasing base).
VARIANTS: dict[str, Variant] = {
    "plain": Variant("f(x)", lam="none", identity="without lam"),
    "neg": Variant("-f(x)", lam="none", identity="never", compared_with="plain"),
    "hshift": Variant("f(x + lam)", lam="required", identity="at zero"),
    "vshift": Variant("f(x) + lam", lam="required", identity="at zero"),
    "clip": Variant(
        "clip(f(x), -lam, lam)", lam="optional", identity="without lam", lam_range=POSITIVE
    ),
    "mix": Variant(
        "(1 - lam)*f(x) + lam*x", lam="required", identity="at zero", lam_range=FRACTION
    ),
    "flat": Variant("max(f(x - lam), 0) + min(f(x + lam), 0)", lam="required", identity="at zero"),
}


@dataclass(frozen=True)
class ReferenceCell:
    """One row of a reference table: a full-scale training and its outcome."""

    table: str
    prop: str  # the property the row is about (the CSV's `property` column)
    base: str
    variant: str
    lam: float | None
    value: float | None  # None: the training failed
    line: int
    source: str  # the file the row was read from
    expression: str  # the function trained, in the expression syntax
    base_id: str  # the base's candidate id (one per function modulo the template)

    @property
    def key(self) -> str:
        lam = "" if self.lam is None else f"{self.lam:g}"
        return f"{self.table}:{self.base}:{self.variant}:{lam}"

    @property
    def label(self) -> str:
        """How the cell is named in reports: ``T1 erf hshift λ=-2``, ``T6 −erf``."""
        if self.variant == "plain":
            return f"{self.table} {self.base}"
        if self.variant == "neg":
            return f"{self.table} −{self.base}"
        lam = "unclipped" if self.lam is None else f"λ={self.lam:g}"
        return f"{self.table} {self.base} {self.variant} {lam}"

    @property
    def row(self) -> tuple[str, str, str]:
        return (self.table, self.base, self.variant)

    @property
    def failed(self) -> bool:
        return self.value is None

    @property
    def is_identity(self) -> bool:
        """Whether the cell trains the base f itself."""
        identity = VARIANTS[self.variant].identity
        if identity == "without lam":
            return self.lam is None
        return identity == "at zero" and self.lam == 0


def _anchor_ids() -> set[str]:
    return {Candidate.from_text(name).id for name in ANCHOR_BASES}


def _number(text: str, where: str, column: str) -> float:
    return float(ANY_NUMBER.parse(text, f"{where}: column {column!r}"))


def _cell(raw: dict[str, str], where: str, line: int) -> ReferenceCell:
    get = {c: (raw.get(c) or "").strip() for c in COLUMNS}
    for column in ("table", "property", "base", "variant"):
        if not get[column]:
            raise UserError(f"{where}: column {column!r} is empty")
    if get["property"] not in PROPERTIES:
        hint = suggest(get["property"], list(PROPERTIES))
        raise UserError(
            f"{where}: column 'property': unknown property {get['property']!r}{hint} "
            f"(known: {', '.join(PROPERTIES)})"
        )
    variant = VARIANTS.get(get["variant"])
    if variant is None:
        hint = suggest(get["variant"], list(VARIANTS))
        raise UserError(
            f"{where}: column 'variant': unknown variant {get['variant']!r}{hint} "
            f"(known: {', '.join(VARIANTS)})"
        )
    lam = _number(get["lam"], where, "lam") if get["lam"] else None
    if lam is not None and variant.lam == "none":
        raise UserError(f"{where}: column 'lam': variant {get['variant']!r} takes no λ")
    if lam is None and variant.lam == "required":
        raise UserError(f"{where}: column 'lam': variant {get['variant']!r} needs a λ")
    if lam is not None:
        where_lam = f"{where}: column 'lam' of a {get['variant']} row"
        variant.lam_range.check(lam, where_lam, shown=get["lam"])
    value = _number(get["value"], where, "value") if get["value"] else None
    name = get["base"]
    if name.isidentifier() and name != "x" and find_entry(name) is None:
        raise UserError(
            f"{where}: column 'base': unknown base {name!r}{suggest(name, catalog_names())} "
            "(a catalog name, or an expression in x)"
        )
    try:
        base = Candidate.from_text(name, origin=f"{where}: column 'base'")
    except ExpressionError as exc:
        raise UserError(str(exc)) from None  # it names the file, line and column
    text = variant.template.replace("lam", "" if lam is None else f"({lam!r})")
    unclipped = lam is None and variant.lam == "optional"
    if unclipped or (lam == 0 and variant.identity == "at zero"):
        text = "f(x)"  # unclipped, or λ = 0: f itself, whatever the template's algebra
    try:
        expression = to_source(parse(text, primitives={"f": base.sympy}))
    except ExpressionError as exc:  # a λ the expression language cannot hold
        raise UserError(
            f"{where}: column 'lam': {get['lam']} cannot be used in a {get['variant']} row "
            f"({exc.message})"
        ) from None
    return ReferenceCell(
        table=get["table"],
        prop=get["property"],
        base=get["base"],
        variant=get["variant"],
        lam=lam,
        value=value,
        line=line,
        source=where.rsplit(":", 1)[0],
        expression=expression,
        base_id=base.id,
    )


def read_reference(path: str | Path) -> list[ReferenceCell]:
    """The cells of a reference CSV; a bad row is refused naming the file, line and column.

    >>> import tempfile, os
    >>> bad = os.path.join(tempfile.mkdtemp(), "bad.csv")
    >>> header = "table,property,base,variant,lam,value\\n"
    >>> _ = open(bad, "w").write(header + "T1,bounded,erff,plain,,1\\n")
    >>> read_reference(bad)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    candidates._errors.UserError: ...bad.csv:2: column 'base': unknown base 'erff'; did you...
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's byte-order mark is no column
    except FileNotFoundError:
        raise UserError(f"reference table {path} does not exist") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise UserError(
            f"{path}:1: missing column {', '.join(map(repr, missing))} "
            f"(a reference has the columns {', '.join(COLUMNS)})"
        )
    reader.fieldnames = header
    cells: list[ReferenceCell] = []
    seen: dict[tuple[str, str, str, float | None], int] = {}
    for raw in reader:
        line = reader.line_num
        if not any((v or "").strip() for v in raw.values()):
            continue
        if None in raw:  # more fields than the header names
            raise UserError(f"{path}:{line}: more fields than the header's {len(header)}")
        cell = _cell(raw, f"{path}:{line}", line)
        same = (cell.table, cell.base_id, cell.variant, cell.lam)  # erf and erf(x) are one base
        if same in seen:
            raise UserError(f"{path}:{line}: the same cell as line {seen[same]} ({cell.key})")
        seen[same] = line
        cells.append(cell)
    if not cells:
        raise UserError(f"{path}: no rows below the header")
    return cells


def reference_cells(cell: ReferenceCell, cells: Sequence[ReferenceCell]) -> list[ReferenceCell]:
    """The cells ``cell`` is compared with (see the module docstring); empty when the table
    has none for it."""
    compared_with = VARIANTS[cell.variant].compared_with
    if compared_with is not None:
        own = [c for c in cells if c.table == cell.table and c.base_id == cell.base_id]
        own = [c for c in own if c.variant == compared_with and c.is_identity and not c.failed]
        if own:
            return own
    elif not cell.is_identity:
        own = [c for c in cells if c.row == cell.row and c.is_identity and not c.failed]
        if own:
            return own
    anchors = _anchor_ids()
    pool = [c for c in cells if c.base_id in anchors and c.is_identity and not c.failed]
    same_table = [c for c in pool if c.table == cell.table]
    return same_table or pool


def reference_mean(refs: Sequence[ReferenceCell]) -> float:
    """The mean of reference cells, each base weighing the same however many of its identity
    cells the table has (as on the proxy's side, where a base is one run)."""
    by_base: dict[str, list[float]] = {}
    for c in refs:
        if c.value is not None:
            by_base.setdefault(c.base_id, []).append(c.value)
    return statistics.fmean(statistics.fmean(v) for v in by_base.values())


def reference_categories(
    cells: Sequence[ReferenceCell],
    *,
    degrade_points: float = DEGRADE_POINTS,
    direction: Literal["maximize", "minimize"] = "maximize",
) -> dict[str, Category]:
    """Each cell's category, by its key; a cell with no reference cell is refused."""
    sign = 1.0 if direction == "maximize" else -1.0
    out: dict[str, Category] = {}
    for cell in cells:
        if cell.value is None:
            out[cell.key] = "FAIL"
            continue
        refs = reference_cells(cell, cells)
        if not refs:
            raise UserError(
                f"{cell.source}:{cell.line}: cell {cell.key} has nothing to be compared with: "
                f"give its row a λ = 0 (or unclipped) cell, or rows of {', '.join(ANCHOR_BASES)}"
            )
        gap = sign * (reference_mean(refs) - cell.value)
        out[cell.key] = "DEGRADE" if gap >= degrade_points - 1e-9 else "FINE"
    return out


def reference_effects(
    cells: Sequence[ReferenceCell], *, direction: Literal["maximize", "minimize"] = "maximize"
) -> dict[str, float]:
    """Each cell's value minus its reference cells' mean, signed so that worse is lower; a
    failed cell is −inf."""
    sign = 1.0 if direction == "maximize" else -1.0
    out: dict[str, float] = {}
    for cell in cells:
        refs = reference_cells(cell, cells)
        if cell.value is None or not refs:
            out[cell.key] = -math.inf
            continue
        out[cell.key] = sign * (cell.value - reference_mean(refs))
    return out


def decisive_cells(
    cells: Sequence[ReferenceCell], categories: dict[str, Category]
) -> list[ReferenceCell]:
    """The cells that decide a recipe in one sitting: the anchor bases' identity cells, and for
    each (table, variant) the row with the most non-FINE cells — its identity cell and, on each
    side of it, the failing cell nearest to it (else the degraded one farthest) with its
    neighbour towards the identity; of the cells without λ, the non-FINE ones."""
    chosen: set[str] = set()
    anchors = _anchor_ids()
    for base_id in sorted(anchors):
        first = next((c for c in cells if c.base_id == base_id and c.is_identity), None)
        if first is not None:
            chosen.add(first.key)
    groups: dict[tuple[str, str], list[ReferenceCell]] = {}
    for cell in cells:
        groups.setdefault((cell.table, cell.variant), []).append(cell)
    for (_, variant), group in groups.items():
        if VARIANTS[variant].lam == "none":
            chosen.update(c.key for c in group if categories[c.key] != "FINE")
            continue
        rows: dict[str, list[ReferenceCell]] = {}
        for cell in group:
            rows.setdefault(cell.base, []).append(cell)
        worst = max(rows.values(), key=lambda r: sum(categories[c.key] != "FINE" for c in r))
        if not any(categories[c.key] != "FINE" for c in worst):
            continue
        chosen.update(_around_identity(worst, categories))
    return [c for c in cells if c.key in chosen]


def _around_identity(row: list[ReferenceCell], categories: dict[str, Category]) -> set[str]:
    identity = next((c for c in row if c.is_identity), None)
    at = math.inf if identity is None or identity.lam is None else identity.lam
    chosen = {identity.key} if identity is not None else set()
    lammed = sorted((c for c in row if c.lam is not None), key=lambda c: c.lam or 0.0)
    below = [c for c in reversed(lammed) if (c.lam or 0.0) < at]  # nearest first
    above = [c for c in lammed if (c.lam or 0.0) > at]
    for side in (below, above):
        fails = [i for i, c in enumerate(side) if categories[c.key] == "FAIL"]
        degraded = [i for i, c in enumerate(side) if categories[c.key] == "DEGRADE"]
        if identity is not None and categories[identity.key] == "FAIL" and side:
            chosen.add(side[0].key)  # the identity itself fails: its nearest cell
        pick = fails[0] if fails else (degraded[-1] if degraded else None)
        if pick is None:
            continue
        chosen.add(side[pick].key)
        if pick > 0:
            chosen.add(side[pick - 1].key)
    return chosen
