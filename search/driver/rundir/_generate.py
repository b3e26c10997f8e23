"""`derf-search generate`: a grammar in, a run directory of checked candidates out.

Writes ``candidates.parquet``, ``property_report.md|json``, ``plots/shapes.png``,
``summary.json`` and ``config.toml`` (the resolved settings and package versions).

Example:
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp())
    >>> summary = generate(GenerateSettings(max_expressions=500, out=out, progress=False,
    ...                                     symbolic_seconds=0, workers=1))
    >>> summary["enumerated"], (out / "candidates.parquet").exists()
    (500, True)
"""

from __future__ import annotations

import json
import platform
import sys
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import tomli_w

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

from candidates import (
    UserError,
    candidates_table,
    count_space,
    generate_candidates,
    load_grammar,
    plot_shapes,
    report_json,
    report_markdown,
)

from ._files import require_writable
from ._progress import StageProgress
from ._settings import check_sample


@dataclass(frozen=True)
class GenerateSettings:
    """What `derf-search generate` was asked for."""

    grammar: str | None = None  # a path or a built-in grammar name; None: the default grammar
    max_size: int | None = None
    max_expressions: int | None = None
    sample: int | None = None
    seed: int = 0
    max_candidates: int = 2000
    symbolic_seconds: float = 30.0
    workers: int | None = None
    out: Path = Path("results/generate")
    progress: bool = True


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in (
        "derf-search",
        "numpy",
        "scipy",
        "sympy",
        "pandas",
        "pyarrow",
        "matplotlib",
        "torch",
        "optuna",
        "ray",
    ):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _written_by_generate(path: Path) -> bool:
    """Whether ``path`` is the config of an earlier generate run (whose folder a new one may
    replace)."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")).get("command") == "generate"
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False


def generate(settings: GenerateSettings) -> dict[str, Any]:
    """Run the candidate pipeline and write the run directory; returns the summary."""
    check_sample(settings.sample, settings.max_expressions)
    grammar = load_grammar(settings.grammar)
    out = Path(settings.out)
    require_writable(out)  # before the work, not after it
    earlier = _written_by_generate(out / "config.toml")
    if out.is_dir() and any(out.iterdir()) and not earlier:
        raise UserError(
            f"--out {out} holds files that are not a generate run's (a run directory, or "
            "files of yours): choose a new or empty folder, or an earlier generate output"
        )
    with StageProgress(enabled=settings.progress) as progress:
        result = generate_candidates(
            grammar,
            max_size=settings.max_size,
            max_expressions=settings.max_expressions,
            sample=settings.sample,
            seed=settings.seed,
            max_candidates=settings.max_candidates,
            symbolic_seconds=settings.symbolic_seconds,
            workers=settings.workers,
            progress=progress.update,
        )
    enum = result.enumeration
    seconds = result.timings["total"]
    # Counted, not walked: size 8 of the default grammar holds ~3·10⁹ expressions.
    space = count_space(grammar, max_size=settings.max_size)
    summary: dict[str, Any] = {
        "grammar": grammar.path,
        "mode": "sample" if settings.sample is not None else "enumerate",
        # what a complete enumeration would screen (variants included, before dedupe); an
        # upper bound when space_size_exact is false (forbid_inside too intricate to follow)
        "space_size": space.total,
        "space_size_exact": space.exact,
        "enumerated": enum.enumerated,
        "complete": enum.complete,
        "screen_passed": len(enum.survivors),
        "grid_shapes": result.grid_groups,
        "unique": result.unique,
        "passing": result.passing,
        "written": len(result.reports),
        "written_passing": sum(r.passed for r in result.reports),
        "seconds": round(seconds, 3),
        "expressions_per_second": round(enum.enumerated / max(seconds, 1e-9), 1),
        "sympy_seconds": round(result.timings["sympy"], 3),
        "cpu_seconds": round(result.timings["cpu"], 3),
        # sympy runs in every worker, so its share is of the CPU time, not of the wall time.
        "sympy_share": round(result.timings["sympy"] / max(result.timings["cpu"], 1e-9), 3),
        "timings": {k: round(v, 3) for k, v in result.timings.items()},
        "rejected": dict(enum.rejected),
        "per_size": {str(k): v for k, v in sorted(enum.per_size.items())},
    }
    out.mkdir(parents=True, exist_ok=True)  # only now: a refused run leaves nothing behind
    table = candidates_table(result.reports, result.sizes)
    table.to_parquet(out / "candidates.parquet", index=False)
    (out / "property_report.md").write_text(report_markdown(result.reports, summary))
    (out / "property_report.json").write_text(
        json.dumps(report_json(result.reports, summary), indent=1)
    )
    plot_shapes(
        [r for r in result.reports if r.passed] or result.reports,
        out / "plots" / "shapes.png",
        window=grammar.tolerances.window,
    )
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    config = {
        "command": "generate",
        # the command as typed, without the install path of the script that ran it
        "argv": ["derf-search", *sys.argv[1:]],
        "settings": {
            k: (str(v) if isinstance(v, Path) else v)
            for k, v in asdict(settings).items()
            if v is not None
        },
        "tolerances": asdict(grammar.tolerances),
        "versions": package_versions(),
    }
    (out / "config.toml").write_text(tomli_w.dumps(config))
    return summary
