"""The search commands of the command line: `run`, `leaderboard`, `plot`, `export`.

Example:
    $ derf-search run --catalog paper --task digits-vit --seeds 2
    $ derf-search leaderboard results/run --top 5
    $ derf-search export results/run --rank 1 -o derf_winner.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ._args import (
    EXECUTION,
    add_budget_option,
    add_cluster_options,
    add_protocol_options,
    add_storage_option,
    add_workers_options,
    number,
    output_file,
    picture_path,
    recipe_items,
    resumed_settings,
    settings_from,
)
from ._codes import EXIT_INTERRUPTED


def train_table(settings: Any, args: argparse.Namespace, table: Any, *, plots: bool = True) -> Any:
    """Train a command's candidate table (``None`` on ``--resume``: the run's own) as a run,
    and write its leaderboard (and plots): what `study`, `calibrate` and `predict` share.
    ``settings`` passed :func:`~search.driver.check_run`; returns the run's summary."""
    from ..driver import run_search
    from ..reports import write_outputs

    summary = run_search(
        settings,
        resume=bool(args.resume),
        progress=not args.no_progress,
        candidates=table,
        checked=True,
    )
    write_outputs(settings.run_dir, plots=plots)
    return summary


def settings_from_args(args: argparse.Namespace) -> Any:
    from candidates import UserError

    from ..driver import DEFAULT_TASK, RunSettings

    if args.sample_seed is not None and args.sample is None:
        raise UserError("--sample-seed seeds --sample's draw: give --sample too")
    sources = [args.grammar, args.catalog, args.candidates, args.expr]
    catalog = args.catalog if any(sources) else "paper"  # the small default search
    name = args.study_name or (Path(args.out).resolve().name if args.out else "run")
    return settings_from(
        RunSettings,
        args,
        catalog=catalog,
        candidates_dir=args.candidates,
        expressions=tuple(args.expr or ()),
        tasks=tuple(args.task or (DEFAULT_TASK,)),
        recipe=recipe_items(args),
        study_name=name,
        out=args.out or f"results/{name}",
    )


def _run(args: argparse.Namespace) -> int:
    from ..driver import check_run, token_mode_for

    settings = resumed_settings(args) if args.resume else settings_from_args(args)
    check_run(settings, resume=bool(args.resume))
    if settings.objective == "predicted":
        from ..prediction import check_predictor

        check_predictor(settings)  # before anything trains
    token_mode_for(settings.ray_address)  # before Ray is imported (next line)
    from ..driver import merged_note, run_search
    from ..reports import leaderboard_table, separability, write_outputs

    summary = run_search(
        settings, resume=bool(args.resume), progress=not args.no_progress, checked=True
    )
    if settings.objective == "predicted" and not summary.interrupted:
        # an interrupted run is not fitted: minutes of fitting on a part of its runs
        _predicted(settings.run_dir)
    board = write_outputs(settings.run_dir)
    print(leaderboard_table(board, top=args.top))
    packed = f", {summary.packed} trained in packs" if summary.packed else ""
    print(
        f"{summary.finished} finished ({summary.diverged} diverged), {summary.pruned} pruned, "
        f"{summary.failed} failed in {summary.seconds:.0f} s{packed}"
    )
    print(
        f"candidates: {summary.reused} reused from a generate run, {summary.checked} checked "
        f"in {summary.check_seconds:.1f} s"
    )
    note = merged_note(summary.merged)
    if note:
        print(note)
    out = settings.run_dir
    print(f"leaderboard: {out}/leaderboard.md|csv|parquet   plots: {out}/plots/")
    print(separability(board))
    if summary.interrupted:
        predicted = settings.objective == "predicted"
        fitted = (
            " (the predictor is fitted when it finishes; until then the leaderboard shows the "
            "last fit's predictions, if any)"
            if predicted
            else ""
        )
        print(
            f"interrupted: continue with `derf-search run --resume {out}`{fitted}", file=sys.stderr
        )
        return EXIT_INTERRUPTED
    return 0


def _study(args: argparse.Namespace) -> int:
    from candidates import UserError

    from ..driver import DEFAULT_TASK, RunSettings, check_run
    from ..reports import write_study_report
    from ..studies import study_table

    if args.resume:
        settings = resumed_settings(args)
    else:
        if args.study is None:
            raise UserError("give a study (properties or catalog) or --resume RUN_DIR")
        name = f"paper-{args.study}-{'-'.join(args.task or (DEFAULT_TASK,))}"
        settings = settings_from(
            RunSettings,
            args,
            tasks=tuple(args.task or (DEFAULT_TASK,)),
            recipe=recipe_items(args),
            study_name=name,
            out=args.out or f"results/{name}",
        )
    if settings.study is None:
        raise UserError(f"{settings.run_dir} is a search, not a study: use `run --resume`")
    if settings.protocol == "lr-sweep":
        raise UserError(
            "a study reports one run per cell: calibrate a ladder of rates with "
            "`derf-search calibrate --protocol lr-sweep` instead"
        )
    if settings.protocol == "ladder":
        raise UserError(
            "a study reports one run per cell: fit a scale ladder with "
            "`derf-search predict --protocol ladder` instead"
        )
    check_run(settings, resume=bool(args.resume))
    table = None if args.resume else study_table(settings.study)
    summary = train_table(settings, args, table)
    report = write_study_report(settings.run_dir, settings.study)
    print(report.read_text())
    print(
        f"{summary.finished} finished ({summary.diverged} diverged), {summary.failed} failed "
        f"in {summary.seconds:.0f} s; report: {report}, plots: {settings.run_dir}/plots/"
    )
    if summary.interrupted:
        print(
            f"interrupted: continue with `derf-search study --resume {settings.run_dir}`",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    return 0


def _predicted(run_dir: Path) -> None:
    """The predictions the predicted objective ranks by, fitted on the run's record now."""
    from ..prediction import write_predicted

    result = write_predicted(run_dir)
    print(
        f"predictor: {result.best} features, leave-one-table-out κ "
        f"{result.scores[result.best]['table'].kappa.value:.2f}; report: {run_dir}/prediction.md"
    )


def _leaderboard(args: argparse.Namespace) -> int:
    from candidates import UserError

    from ..reports import (
        leaderboard_markdown,
        leaderboard_table,
        leaderboard_wide,
        load_leaderboard,
        separability,
        write_outputs,
    )

    if args.png and args.format != "table":
        raise UserError(f"--png saves the table format, not --format {args.format}")
    png = picture_path(args.png, "--png") if args.png else None
    run_dir = _run_dir(args.run_dir)
    if args.write:  # the run directory's leaderboard files, rewritten from its record
        from ..driver import RunSettings

        if RunSettings.read(run_dir).objective == "predicted":
            _predicted(run_dir)
        write_outputs(run_dir, plots=False)
    board = load_leaderboard(run_dir, task=args.task)
    shown = board[board["rank"] <= args.top] if args.top else board
    if args.format == "md":
        print(leaderboard_markdown(shown), end="")
    elif args.format == "csv":
        print(shown.to_csv(index=False), end="")
    elif args.format == "json":
        print(shown.to_json(orient="records", indent=1))
    elif args.format == "wide":
        wide = leaderboard_wide(shown)
        print(wide[[c for c in wide.columns if c != "latex"]].to_string(index=False))
    else:
        text = leaderboard_table(shown) + separability(board) + "\n"
        print(text, end="")
        if png is not None:
            from ..reports import text_image

            text_image(text, png)
    return 0


def _map(args: argparse.Namespace) -> int:
    from ..reports import map_run

    path = map_run(_run_dir(args.run_dir))
    print(f"{path}  {path.with_suffix('.svg')}")
    return 0


def _plot(args: argparse.Namespace) -> int:
    from candidates import UserError

    from ..driver import read_candidates, read_trials
    from ..reports import load_leaderboard, plot_run

    run_dir = _run_dir(args.run_dir)
    board = load_leaderboard(run_dir)
    trials = read_trials(run_dir)
    if trials.empty:
        raise UserError(f"{run_dir} has no finished trials to plot yet")
    candidates = read_candidates(run_dir)
    for path in plot_run(run_dir, board, trials, candidates):
        print(f"{path}  {path.with_suffix('.svg')}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from candidates import UserError

    from ..reports import export_module

    if args.run_dir and args.candidate is None and not Path(args.run_dir).is_dir():
        args.run_dir, args.candidate = None, args.run_dir  # `export CANDIDATE -o FILE`
    if args.rank is None and args.candidate is None:
        raise UserError("give --rank K (with RUN_DIR) or a CANDIDATE expression or name")
    run_dir = _run_dir(args.run_dir) if args.run_dir else None
    path = export_module(
        output_file(args.output, "-o", (".py",)),
        run_dir=run_dir,
        rank=args.rank,
        candidate=args.candidate,
        task=args.task,
        overwrite=args.force,
    )
    print(f"wrote {path}")
    return 0


def _run_dir(text: str) -> Path:
    from candidates import UserError

    path = Path(text)
    if not (path / "config.toml").is_file():
        raise UserError(f"{path} is not a run directory (no config.toml)")
    return path


def add_search_commands(sub: Any) -> None:
    """The search commands' sub-parsers: `run`, `study`, then `leaderboard`, `plot`, `export`."""
    _add_run(sub)
    _add_study(sub)
    _add_outputs(sub)


def _add_run(sub: Any) -> None:
    p = sub.add_parser("run", help="search: evaluate candidates with Optuna on Ray workers")
    _add_sources(p)
    _add_trials(p)
    _add_scheduling(p)
    _add_execution(p)
    p.add_argument(
        "--top",
        type=number("COUNT"),
        default=10,
        help="leaderboard rows printed at the end (default 10)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=_run, resume_applies=EXECUTION | {"top"})


def _add_sources(p: Any) -> None:
    src = p.add_argument_group("candidates (the baselines are always added)")
    src.add_argument("--grammar", help="generate from this grammar file, evaluate the survivors")
    src.add_argument(
        "--catalog", help="a built-in catalog: paper (the default when no other source is given)"
    )
    src.add_argument("--candidates", metavar="RUN_DIR", help="a `derf-search generate` output")
    src.add_argument(
        "--expr",
        nargs="+",
        action="extend",
        metavar="E",
        help="expressions or catalog names (repeatable: --expr a b --expr c)",
    )
    src.add_argument(
        "--max-expressions", type=number("COUNT"), help="with --grammar: enumerate at most N"
    )
    src.add_argument(
        "--sample",
        type=number("COUNT"),
        metavar="K",
        help="with --grammar: screen about K random expressions in all, their sizes drawn "
        "uniformly, instead of enumerating the simplest (a seeded draw over the whole space)",
    )
    src.add_argument(
        "--sample-seed", type=number("SEED"), help="the seed of --sample's draw (default 0)"
    )
    src.add_argument(
        "--max-candidates",
        type=number("COUNT"),
        default=200,
        help="with --grammar/--candidates: the simplest N passing candidates (default 200)",
    )
    src.add_argument(
        "--shift",
        choices=["scalar", "vector", "none"],
        default="scalar",
        help="the candidates' s: one scalar, one per channel, or none (default scalar)",
    )


def _add_trials(p: Any) -> None:
    from ..driver import DEFAULT_SEEDS, DEFAULT_TASK, OBJECTIVES

    ev = p.add_argument_group("trials")
    ev.add_argument(
        "--task",
        nargs="+",
        action="extend",
        help=f"tasks (repeatable; default {DEFAULT_TASK})",
    )
    ev.add_argument(
        "--seeds",
        type=number("COUNT"),
        default=DEFAULT_SEEDS,
        help=f"seeds per candidate, paired across candidates (default {DEFAULT_SEEDS})",
    )
    add_budget_option(ev)
    ev.add_argument(
        "--alpha0",
        type=number("POSITIVE"),
        help="α's initial value (default: 0.5, or the catalog entry's)",
    )
    ev.add_argument("--tune-alpha", action="store_true", help="sample α0 log-uniformly per trial")
    add_protocol_options(ev)
    ev.add_argument(
        "--objective",
        choices=OBJECTIVES,
        default="final",
        help="what the leaderboard ranks by; best-lr, lr-sensitivity and pareto (the front of "
        "best metric and sensitivity) need --protocol lr-sweep; predicted: the full-scale value "
        "a predictor fitted on a reference predicts, needs --predictor (default final)",
    )
    ev.add_argument(
        "--predictor",
        metavar="RUN_DIR",
        help="with --objective predicted: a prediction run (derf-search predict) of the same "
        "task, protocol, budget and recipe, whose reference functions fit the predictor",
    )
    ev.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")


def _add_scheduling(p: Any) -> None:
    from ..driver import CATEGORICAL_LIMIT, PRUNERS

    sc = p.add_argument_group("scheduling")
    sc.add_argument(
        "--sampler",
        default="grid",
        help="grid: every candidate × seed in order; random; tpe: over the candidate ids (at "
        f"most {CATEGORICAL_LIMIT:,}); guided: expected improvement of a Gaussian process over "
        "shape descriptors (default grid)",
    )
    sc.add_argument("--pruner", default="none", help=f"{'|'.join(PRUNERS)} (default none)")
    sc.add_argument(
        "--max-trials", type=number("COUNT"), help="per task (default: every candidate × seed)"
    )
    sc.add_argument(
        "--timeout", type=number("POSITIVE"), help="seconds after which no new trial starts"
    )


def _add_execution(p: Any) -> None:
    ex = p.add_argument_group("execution and storage")
    add_workers_options(ex)
    add_cluster_options(ex)
    ex.add_argument("--study-name", help="default: the name of --out, or 'run'")
    ex.add_argument("--out", help="run directory (default results/<study name>)")
    ex.add_argument("--resume", metavar="RUN_DIR", help="continue a run; its settings are reused")


def _add_study(sub: Any) -> None:
    from ..driver import DEFAULT_TASK

    p = sub.add_parser("study", help="the paper's property ablations or its function search")
    p.add_argument(
        "study",
        nargs="?",
        choices=["properties", "catalog"],
        help="properties: the Section 3 ablations; catalog: the 16 functions of the search",
    )
    p.add_argument(
        "--task",
        nargs="+",
        action="extend",
        help=f"tasks (repeatable; default {DEFAULT_TASK})",
    )
    p.add_argument(
        "--seeds", type=number("COUNT"), default=3, help="seeds per function (default 3)"
    )
    add_budget_option(p)
    add_protocol_options(p, ladder=False)  # a study reports one run per cell: no ladder
    p.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    add_workers_options(p)
    add_storage_option(p)
    p.add_argument("--out", help="run directory (default results/paper-<study>-<tasks>)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a study run")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=_study)


def _add_outputs(sub: Any) -> None:
    p = sub.add_parser("leaderboard", help="print a run's leaderboard (also while it runs)")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run or study directory")
    p.add_argument("--task", help="rank by this task alone")
    p.add_argument("--top", type=number("COUNT"), help="the best K candidates only")
    p.add_argument(
        "--format",
        choices=["table", "wide", "md", "csv", "json"],
        default="table",
        help="table (default): a row per candidate in 100 columns, with tie groups and paired "
        "differences; wide: every column; md: markdown; csv and json: the long table, a row "
        "per candidate and task",
    )
    p.add_argument(
        "--write",
        action="store_true",
        help="also rewrite the run's leaderboard.csv|parquet|md from its trials",
    )
    p.add_argument(
        "--png", metavar="FILE", help="with the table format: also save it as a PNG picture"
    )
    p.set_defaults(run=_leaderboard)

    p = sub.add_parser(
        "map", help="a run's candidates in shape-descriptor space, coloured by their metric"
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory")
    p.set_defaults(run=_map)

    p = sub.add_parser("plot", help="write a run's plots (PNG and SVG)")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run or study directory")
    p.set_defaults(run=_plot)

    p = sub.add_parser("export", help="write a standalone PyTorch module for a candidate")
    p.add_argument("run_dir", metavar="RUN_DIR", nargs="?", help="the run whose row to export")
    p.add_argument(
        "candidate",
        metavar="CANDIDATE",
        nargs="?",
        help="a catalog name, an expression, or a candidate id or name of RUN_DIR",
    )
    p.add_argument("--rank", type=number("COUNT"), help="the leaderboard row to export")
    p.add_argument("--task", help="with --rank: rank by this task")
    p.add_argument("-o", "--output", required=True, help="the .py file to write")
    p.add_argument("--force", action="store_true", help="replace the file if it exists")
    p.set_defaults(run=_export)
