"""`derf-search calibrate`: how well a proxy task agrees with a reference of full-scale results.

Example:
    $ derf-search calibrate --task mnist1d --cells decisive --seeds 2
    $ derf-search calibrate --task digits-dit --protocol gain-matched --recipe lr=4e-3
    $ derf-search calibrate --resume results/calibration-mnist1d-decisive
    $ derf-search calibrate --study results/paper-properties-digits-dit   # no training
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ._args import (
    RESUME_ELSEWHERE,
    add_cluster_options,
    add_reference_command,
    add_workers_options,
    number,
    recipe_items,
    recorded_path,
    resumed_settings,
    settings_from,
)
from ._codes import EXIT_INTERRUPTED
from ._search import train_table

#: Seeds below this give no standard error, and DEGRADE needs one.
MIN_SEEDS = 2


def _calibrate(args: argparse.Namespace) -> int:
    from candidates import UserError

    from ..calibration import (
        DEGRADE_SE,
        PAPER_REFERENCE,
        STUDY,
        calibration_table,
        read_reference,
        write_calibration,
    )
    from ..driver import RunSettings, check_run, token_mode_for

    if args.study:
        return _rescore(args)
    table = None
    if args.resume:
        settings = resumed_settings(args)
        if settings.study != STUDY:
            raise UserError(f"{args.resume} is not a calibration run: {RESUME_ELSEWHERE}")
        check_run(settings, resume=True)
    else:
        if args.task is None:
            raise UserError("give a task to calibrate (--task T) or --resume RUN_DIR")
        if args.seeds < MIN_SEEDS:
            raise UserError(
                f"a calibration needs at least {MIN_SEEDS} seeds (a degraded cell is one worse "
                f"by more than {DEGRADE_SE:g} standard errors over seeds), but got --seeds "
                f"{args.seeds}"
            )
        reference = Path(args.reference) if args.reference else PAPER_REFERENCE
        cells = read_reference(reference)  # a bad row is refused before anything runs
        suffix = "" if args.protocol == "single" else f"-{args.protocol}"
        name = f"calibration-{args.task}-{args.cells}{suffix}"
        settings = settings_from(  # the options named like settings fields, and these
            RunSettings,
            args,
            study=STUDY,
            reference=recorded_path(args.reference),  # None: the built-in one, wherever it is
            tasks=(args.task,),
            recipe=recipe_items(args),
            study_name=Path(args.out).resolve().name if args.out else name,
            out=args.out or f"results/{name}",
        )
        check_run(settings)
        table = calibration_table(
            cells, cells=settings.cells, shift=settings.shift, degrade_points=args.degrade_points
        )
    token_mode_for(settings.ray_address)  # before Ray is imported (next line)
    summary = train_table(settings, args, table)
    write_calibration(settings.run_dir)
    out = settings.run_dir
    print((out / "calibration.md").read_text())
    print(
        f"{summary.finished} finished ({summary.diverged} diverged), {summary.failed} failed in "
        f"{summary.seconds:.0f} s; report: {out}/calibration.md|json, plot: "
        f"{out}/plots/calibration.png"
    )
    if summary.interrupted:
        print(f"interrupted: continue with `derf-search calibrate --resume {out}`", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


def _check_rescore_out(out: Path, study: Path) -> None:
    """A rescore writes into its study, or into a new or empty folder: never over another
    run's or another calibration's files."""
    from candidates import UserError

    if out.resolve() == study.resolve():
        return
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file, not a folder: choose another --out")
    if out.is_dir() and any(out.iterdir()):
        raise UserError(
            f"--out {out} already holds files (another run or calibration): a rescore writes "
            "into its study (leave out --out) or into a new or empty folder"
        )


def _rescore(args: argparse.Namespace) -> int:
    """Score an existing property study against the reference: no training."""
    from ..calibration import PAPER_REFERENCE, read_reference, rescore_study, write_calibration

    reference = read_reference(Path(args.reference) if args.reference else PAPER_REFERENCE)
    figures = rescore_study(args.study, reference, degrade_points=args.degrade_points)
    out = Path(args.out) if args.out else Path(args.study)
    _check_rescore_out(out, Path(args.study))
    out.mkdir(parents=True, exist_ok=True)
    write_calibration(out, figures)
    print((out / "calibration.md").read_text())
    print(f"report: {out}/calibration.md|json, plot: {out}/plots/calibration.png")
    return 0


def add_calibrate_command(sub: Any) -> None:
    """The sub-parser of `calibrate`."""
    from ..driver import DEGRADE_POINTS

    p = add_reference_command(
        sub,
        "calibrate",
        help="agreement of a proxy task with full-scale results (the paper's Section 3)",
        task="the proxy task to calibrate",
        cells="decisive",
        cells_help="decisive: 25 cells in 22 runs per seed with LayerNorm (five times that with "
        "lr-sweep), to judge a recipe in one sitting; all: every cell (default decisive)",
        seeds="cell",
    )
    p.add_argument(
        "--shift",
        choices=["scalar", "vector", "none"],
        default="none",
        help="the template's s, as in the reference (default none, as in the paper's Section 3)",
    )
    p.add_argument(
        "--degrade-points",
        type=number("POSITIVE"),
        help="a reference cell this many points below its reference cells is DEGRADE "
        f"(default {DEGRADE_POINTS:g})",
    )
    p.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    add_workers_options(p)
    add_cluster_options(p)
    p.add_argument("--out", help="run directory (default results/calibration-<task>-<cells>)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a calibration run")
    p.add_argument(
        "--study",
        metavar="RUN_DIR",
        help="score an existing `study properties` run instead of training, with --reference "
        "and --degrade-points (written into RUN_DIR, or --out)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=_calibrate)
