"""`derf-search predict`: full-scale outcomes predicted from proxies, cross-validated on a
reference's cells.

Example:
    $ derf-search predict --task mnist1d-deep --protocol ladder --budget 4 --seeds 2
    $ derf-search predict --resume results/prediction-mnist1d-deep-all-ladder
    $ derf-search predict --from results/paper-properties-digits-dit --out results/p --catalog
    $ derf-search predict --zero-cost --expr "x/(1 + abs(x))" --out results/p0
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from ._args import (
    EXECUTION,
    RESUME_ELSEWHERE,
    T,
    add_cluster_options,
    add_reference_command,
    add_workers_options,
    recipe_items,
    recorded_path,
    resumed_settings,
    settings_from,
)
from ._codes import EXIT_INTERRUPTED
from ._search import train_table

#: Ray workers of a new prediction run.
DEFAULT_WORKERS = 2


def _check_out(out: Path) -> None:
    """A folder a prediction without training may write into: new, empty, or one that holds
    an earlier prediction or a run directory (never a file, never someone's other folder)."""
    from candidates import UserError

    from ..prediction import PREDICTION_FILES

    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file: give a folder")
    if out.is_dir():
        mine = set(PREDICTION_FILES) | {"config.toml", "plots"}
        if any(p.name not in mine for p in out.iterdir()) and not (out / "config.toml").is_file():
            raise UserError(f"--out {out} holds other files: give a new folder, or a run directory")


def _candidates(args: argparse.Namespace, taken: frozenset[str]) -> dict[str, str]:
    """name -> expression of the candidates to predict (``--catalog``, ``--expr``, ``--run``),
    each refused in one line if bad (as recorded, for an option in ``taken``)."""
    from candidates import Candidate, get_catalog

    out: dict[str, str] = {}
    if args.catalog:
        out.update({e.name: str(e.expression) for e in get_catalog("paper") if e.expression})
    for text in args.expr or ():
        function = _checked(
            "expressions", _origin(args, taken, "expr"), partial(Candidate.from_text, text)
        )
        out[text] = function.expression
    if args.candidates_of:
        from ..driver import read_candidates

        table = _checked(
            "candidates_dir",
            _origin(args, taken, "candidates_of"),
            partial(read_candidates, args.candidates_of),
        )
        for row in table.to_dict("records"):
            if row["kind"] != "candidate" or not isinstance(row["expression"], str):
                continue
            # a row without a name is known by its id; a name two functions share (a study's
            # display names repeat) gets the id too, so that no candidate is dropped
            name = row.get("name")
            key = name if isinstance(name, str) and name else str(row["candidate_id"])
            if key in out and out[key] != row["expression"]:
                key = f"{key} ({row['candidate_id']})"
            out.setdefault(key, row["expression"])
    return out


#: predict's options that say what a fit predicts and from what, and the field of
#: :class:`~search.driver.RunSettings` each is recorded in by a run that trains.
REQUEST = {
    "target": "target",
    "features": "feature_sets",
    "measures": "measures",
    "sources": "sources",
    "catalog": "catalog",
    "expr": "expressions",
    "candidates_of": "candidates_dir",
}


def _recorded_request(args: argparse.Namespace) -> tuple[argparse.Namespace, frozenset[str]]:
    """``args`` with the request a prediction run was started with (:data:`REQUEST`) in place
    of each option not typed on this command line, and the options so taken: a resume fits
    what the run was started for, and an option typed again replaces its recorded value for
    this fit.

    >>> from search.driver import RunSettings
    >>> import tempfile
    >>> run = Path(tempfile.mkdtemp())
    >>> RunSettings(study="prediction", catalog="paper", expressions=("x/(1 + abs(x))",)).write(
    ...     run / "config.toml", {"command": "run"})
    >>> args = argparse.Namespace(resume=run, given=frozenset({"resume"}), catalog=False,
    ...     expr=None, candidates_of=None, target="width=768", features="all", measures=None,
    ...     sources=None)
    >>> resumed, taken = _recorded_request(args)
    >>> resumed.catalog, resumed.expr, resumed.target, sorted(taken)
    (True, ['x/(1 + abs(x))'], 'width=768', ['catalog', 'expr'])
    """
    from candidates import UserError

    from ..driver import RunSettings
    from ..prediction import STUDY

    settings = RunSettings.read(args.resume)
    if settings.study != STUDY:  # before its record is read as a prediction's
        raise UserError(f"{args.resume} is not a prediction run: {RESUME_ELSEWHERE}")
    if settings.catalog not in (None, "paper"):
        raise UserError(
            f"{Path(args.resume) / 'config.toml'}: recorded catalog {settings.catalog!r}: a "
            "prediction predicts the paper's catalog or none"
        )
    recorded: dict[str, Any] = {
        option: getattr(settings, field) for option, field in REQUEST.items()
    }
    recorded["catalog"] = settings.catalog is not None
    recorded["sources"] = list(settings.sources) or None
    recorded["expr"] = list(settings.expressions) or None
    given: frozenset[str] = getattr(args, "given", frozenset())
    kept = {
        option: value
        for option, value in recorded.items()
        if option not in given and value is not None
    }
    return argparse.Namespace(**{**vars(args), **kept}), frozenset(kept)


def _origin(args: argparse.Namespace, taken: frozenset[str], option: str) -> Path | None:
    """The config.toml an option's value was recorded in (``taken``), or None: typed."""
    return Path(args.resume) / "config.toml" if option in taken else None


def _checked(what: str, origin: Path | None, check: Callable[[], T]) -> T:
    """``check()``, its refusal saying where a value recorded in a run came from (``origin``,
    its config.toml), so that it is not read as an option the user typed."""
    from candidates import UserError

    try:
        return check()
    except UserError as exc:
        if origin is None:
            raise
        raise UserError(f"{origin}: recorded {what}: {exc}") from None


def _check_source(source: Path) -> None:
    """A run directory whose trained runs can be read as features (its candidate table is
    read here, before anything trains, rather than after)."""
    from candidates import UserError

    from ..driver import read_candidates

    if not (source / "config.toml").is_file():
        raise UserError(f"--from {source} is not a run directory (it has no config.toml)")
    try:
        read_candidates(source)
    except UserError as exc:
        raise UserError(f"--from {source}: {exc}") from None


def _checked_request(args: argparse.Namespace, taken: frozenset[str]) -> tuple[Any, ...]:
    """The request's target, feature sets, measures (None: every one) and source folders,
    refused before anything runs; a value in ``taken`` (recorded in the run resumed) is
    refused as recorded."""
    from ..prediction import parse_feature_sets, parse_measures, parse_target

    def origin(option: str) -> Path | None:
        return _origin(args, taken, option)

    target = _checked("target", origin("target"), lambda: parse_target(args.target))
    feature_sets = _checked(
        "feature_sets", origin("features"), lambda: parse_feature_sets(args.features)
    )
    measures = None
    if args.measures is not None:
        measures = _checked("measures", origin("measures"), lambda: parse_measures(args.measures))
    sources = [Path(p) for p in args.sources or ()]
    for source in sources:
        _checked("sources", origin("sources"), partial(_check_source, source))
    return target, feature_sets, measures, sources


def _predict(args: argparse.Namespace) -> int:
    from candidates import UserError

    from ..calibration import PAPER_REFERENCE, read_reference
    from ..prediction import predict, write_prediction

    taken: frozenset[str] = frozenset()
    if args.resume:
        args, taken = _recorded_request(args)
    target, feature_sets, measures, sources = _checked_request(args, taken)
    if args.zero_cost and measures is not None:
        raise UserError("--zero-cost reads no trained features: leave --measures out")
    if args.zero_cost and (args.resume or sources):
        raise UserError(
            "--zero-cost trains nothing and reads no run: leave it out with "
            f"{'--resume' if args.resume else '--from'}"
        )
    candidates = _candidates(args, taken)
    if args.resume or not (args.zero_cost or sources):
        settings, table = _training(args, candidates)
        recorded = Path(args.resume) / "config.toml" if args.resume else None
        reference = _checked(  # refused before training
            "reference", recorded, partial(read_reference, settings.reference or PAPER_REFERENCE)
        )
        summary = train_table(settings, args, table, plots=False)
        out = settings.run_dir
        if summary.interrupted:
            # Fitting takes minutes and a partial run would predict from missing features:
            # an interrupt stops here, the trained runs kept.
            print(
                f"interrupted before the predictor is fitted ({summary.finished} runs finished "
                f"since this command started): continue with `derf-search predict --resume {out}`",
                file=sys.stderr,
            )
            return EXIT_INTERRUPTED
        sources = [out, *sources]
    else:
        if args.task or args.protocol != "single" or args.recipe or args.widths:
            raise UserError(
                "--task, --protocol, --recipe and --widths train a prediction run: leave them "
                "out with --from or --zero-cost"
            )
        if args.workers is not None or args.device is not None:
            raise UserError(
                "--workers and --device say how a prediction run trains: with --from or "
                "--zero-cost nothing trains"
            )
        reference = read_reference(Path(args.reference) if args.reference else PAPER_REFERENCE)
        out = Path(args.out or "results/prediction")
        _check_out(out)
    result = predict(
        reference,
        sources=sources,
        candidates=candidates,
        target=target,
        feature_sets=feature_sets,
        measures=measures,
    )
    write_prediction(out, result)
    from ..prediction import plot_ladders

    scale = {"width": target.width, "steps": target.steps}
    plots = [p for s in sources for p in plot_ladders(s, candidates, out / "plots", target=scale)]
    print((out / "prediction.md").read_text(encoding="utf-8"))
    print(
        f"report: {out}/prediction.md|json, predictions: {out}/predictions.csv, "
        f"features: {out}/features.csv"
    )
    if plots:
        print(f"ladder plots: {out}/plots/ladder-*.png ({len(plots)})")
    return 0


def _training(args: argparse.Namespace, candidates: dict[str, str]) -> tuple[Any, Any]:
    """The settings and candidate table of the prediction run to train or resume (a new run
    trains the candidates to predict too)."""
    from candidates import UserError

    from ..calibration import PAPER_REFERENCE, read_reference
    from ..driver import RunSettings, check_run
    from ..prediction import STUDY, prediction_table

    if args.resume:  # a prediction run's: _recorded_request checked its study
        settings = resumed_settings(args)
        check_run(settings, resume=True)
        return settings, None
    if args.task is None:
        raise UserError(
            "give a task to train (--task T), --resume RUN_DIR, runs to read (--from DIR) "
            "or --zero-cost"
        )
    if args.protocol == "lr-sweep":
        raise UserError(
            "predict reads no lr-sweep runs as features: use --protocol single, gain-matched, "
            "ladder or overfit"
        )
    reference = Path(args.reference) if args.reference else PAPER_REFERENCE
    cells = read_reference(reference)
    suffix = "" if args.protocol == "single" else f"-{args.protocol}"
    name = f"prediction-{args.task}-{args.cells}{suffix}"
    settings = settings_from(
        RunSettings,
        args,
        workers=args.workers or DEFAULT_WORKERS,
        device=args.device or "auto",
        study=STUDY,
        reference=recorded_path(args.reference),  # None: the built-in one, wherever it is
        tasks=(args.task,),
        # what the run predicts beside the reference's cells, trained with them; and how its
        # report is fitted: recorded, so that `--resume` fits the same from any folder
        catalog="paper" if args.catalog else None,
        expressions=tuple(args.expr or ()),
        candidates_dir=recorded_path(args.candidates_of),
        target=args.target,
        feature_sets=args.features,
        measures=args.measures,
        sources=tuple(str(recorded_path(p)) for p in args.sources or ()),
        shift="none",
        recipe=recipe_items(args),
        study_name=Path(args.out).resolve().name if args.out else name,
        out=args.out or f"results/{name}",
    )
    check_run(settings)
    return settings, prediction_table(cells, cells=settings.cells, candidates=candidates)


def _add_fit_options(p: argparse.ArgumentParser) -> None:
    """``--target``, ``--features``, ``--measures`` and ``--from``: how a report is fitted."""
    from ..prediction import Target

    default = Target().text()
    p.add_argument(
        "--target",
        default=default,
        help=f"the scale a ladder's growth is extrapolated to (default {default}: ViT-B/16 "
        "on ImageNet; on --resume, the run's own)",
    )
    p.add_argument(
        "--features",
        default="zero-cost,trained,all",
        help="the feature sets to fit and compare: zero-cost (descriptors of f), trained "
        "(runs only), all (default: the three; on --resume, the run's own)",
    )
    p.add_argument(
        "--measures",
        metavar="NAMES",
        help="keep only these measures' trained features (comma-separated: metric, "
        "diverged, train_loss or a growth signal such as attention_logit; default every one; "
        "on --resume, the run's own)",
    )
    p.add_argument(
        "--from",
        dest="sources",
        action="append",
        metavar="RUN_DIR",
        help="trained features from an existing run directory (a property study, a "
        "calibration or prediction run; repeatable); without --task nothing is trained; on "
        "--resume, these replace the run's own",
    )


def add_predict_command(sub: Any) -> None:
    """The sub-parser of `predict`."""
    p = add_reference_command(
        sub,
        "predict",
        help="predict full-scale outcomes from proxies, cross-validated on a reference",
        task="the proxy task to train the reference's functions on",
        cells="all",
        cells_help="which reference cells' functions to train: all (default), or the decisive ones",
        seeds="function",
    )
    _add_fit_options(p)
    p.add_argument(
        "--zero-cost", action="store_true", help="train nothing: zero-cost descriptors only"
    )
    p.add_argument(
        "--catalog",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="also predict the paper's 16 functions (on --resume, the run's own: "
        "--no-catalog leaves them out of a run started with --catalog)",
    )
    p.add_argument(
        "--expr",
        action="append",
        metavar="EXPR",
        help="also predict this function (repeatable; on --resume, these replace the run's own, "
        "and one the run did not train is predicted from its zero-cost features)",
    )
    p.add_argument(
        "--run",
        dest="candidates_of",
        metavar="RUN_DIR",
        help="also predict a run directory's candidates, as its table holds them when the fit "
        "reads it (on --resume, replaces the run's own)",
    )
    p.add_argument("--device", help="cpu, cuda or auto (default auto; on --resume, the run's own)")
    add_workers_options(
        p, default=None, shown=f"default {DEFAULT_WORKERS}; on --resume, the run's own"
    )
    add_cluster_options(p)
    p.add_argument(
        "--out",
        help="run directory (default results/prediction-<task>-<cells>[-<protocol>]), or "
        "the report's folder without training (default results/prediction)",
    )
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a prediction run")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    # on --resume, what the report predicts may change as well as how the run runs
    report = {"target", "features", "measures", "sources", "catalog", "expr", "candidates_of"}
    p.set_defaults(run=_predict, resume_applies=EXECUTION | report)
