"""The candidate commands of the command line: `check`, `generate`, `tasks`, `evaluate`.

Example:
    $ derf-search check "erf(x)" "x/(1 + abs(x))"
    $ derf-search generate --max-expressions 20000 --out results/my-space
    $ derf-search evaluate erf --task digits-vit
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from ._args import (
    add_budget_option,
    add_protocol_options,
    number,
    picture_path,
    recipe_items,
    settings_from,
)
from ._codes import EXIT_USAGE


def _check(args: argparse.Namespace) -> int:
    from candidates import ExpressionError, Tolerances, UserError, check, load_grammar

    texts = list(args.expressions)
    if args.file:
        path = Path(args.file)
        if not path.is_file():
            raise UserError(f"no such file: {path}")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise UserError(
                f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}): --file takes "
                "expressions, one per line"
            ) from None
        for line in text.splitlines():
            stripped = line.split("#", 1)[0].strip()
            if stripped:
                texts.append(stripped)
    if not texts:
        raise UserError("give at least one expression (or --file F)")
    grammar = load_grammar(args.grammar) if args.grammar else None
    primitives = grammar.primitives if grammar else None
    tolerances = grammar.tolerances if grammar else Tolerances()
    outputs: list[dict[str, object]] = []
    failed = False
    for text in texts:
        try:
            report = check(
                text, primitives=primitives, tolerances=tolerances, symbolic=not args.numeric_only
            )
        except ExpressionError as exc:
            failed = True
            outputs.append({"expression": text, "error": str(exc)})
            if not args.json:
                print(f"derf-search: error: {exc}", file=sys.stderr)
            continue
        outputs.append(report.to_dict())
        if not args.json:
            print(report.to_text())
            print()
    if args.json:
        print(json.dumps(outputs, indent=2))
    return EXIT_USAGE if failed else 0


def _generate(args: argparse.Namespace) -> int:
    from ..driver import GenerateSettings, generate

    settings = settings_from(
        GenerateSettings, args, out=Path(args.out), progress=not args.no_progress
    )
    summary = generate(settings)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(
            f"enumerated {summary['enumerated']:,} of {_space_text(summary)}, "
            f"{summary['screen_passed']:,} "
            f"passed the numeric screen, {summary['unique']:,} unique, "
            f"{summary['passing']:,} pass all four properties "
            f"({summary['seconds']:.1f} s, {summary['expressions_per_second']:,.0f} expr/s)"
        )
        print(
            f"wrote {summary['written']:,} candidates to {settings.out}/: candidates.parquet, "
            "property_report.md, property_report.json, plots/shapes.png, summary.json"
        )
    return 0


def _space_text(summary: dict[str, Any]) -> str:
    """The space's size as the summary line says it.

    >>> _space_text({"space_size": 2812918738, "space_size_exact": True})
    '2,812,918,738 expressions in the space (before dedupe)'
    """
    bound = "" if summary["space_size_exact"] else "at most "
    return f"{bound}{summary['space_size']:,} expressions in the space (before dedupe)"


def _tasks(args: argparse.Namespace) -> int:
    from evaluators import get_task, task_names

    rows = []
    for name in task_names():
        task = get_task(name)
        budget = task.budget("default")
        rows.append(
            {
                "task": name,
                "metric": task.metric,
                "direction": task.direction,
                "default_budget": f"{budget.epochs} epochs",
                "typical_seconds": task.typical_seconds,
                "budgets": {b: task.budget(b).describe() for b in sorted(task.budgets)},
                "description": task.description,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(
        f"{'task':<14}{'metric':<17}{'direction':<10}{'default budget':<16}"
        f"{'typical run':<13}description"
    )
    for row in rows:
        typical = f"~{row['typical_seconds']:.0f} s" if row["typical_seconds"] else "-"
        print(
            f"{row['task']:<14}{row['metric']:<17}{row['direction']:<10}"
            f"{row['default_budget']:<16}{typical:<13}{row['description']}"
        )
    print("\nbudgets (--budget also takes a number of epochs, with the default's other settings):")
    for name in task_names():
        task = get_task(name)
        for budget_name in sorted(task.budgets):
            print(f"  {name:<14}{budget_name:<9}{task.budget(budget_name).describe()}")
    return 0


def _finite_or_none(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _evaluate(args: argparse.Namespace) -> int:
    from candidates import TEMPLATE

    from ..driver import StageProgress, TrialSpec, run_trial

    task, recipe, alpha0 = _evaluate_plan(args)
    curves = picture_path(args.curves, "--curves") if args.curves else None
    spec = settings_from(
        TrialSpec,
        args,
        trial=0,
        shift=args.shift or TEMPLATE,
        alpha0=alpha0,
        recipe=tuple(recipe.items()),
    )
    with StageProgress(enabled=not args.json and not args.no_progress) as bar:
        result = run_trial(
            spec, task, progress=lambda step, total: bar.update("train", step, total)
        )
    if curves is not None:
        from ..reports import plot_growth

        plot_growth(result.growth, curves, title=f"{result.task} / {result.candidate}")
    if args.json:
        print(json.dumps(_evaluate_json(result), allow_nan=False))
    else:
        _print_evaluation(result, curves)
    return 0


def _evaluate_plan(args: argparse.Namespace) -> tuple[Any, dict[str, Any], float | None]:
    """The task, the recipe (the protocol's changes included) and α0 of one `evaluate` run,
    every setting checked before training starts."""
    from candidates import UserError, find_entry
    from evaluators import apply_recipe, get_task, parse_recipe

    from ..driver import PROTOCOL_RECIPES, check_protocol_recipe, protocol_alpha0

    task = get_task(args.task)
    recipe = parse_recipe(recipe_items(args))
    apply_recipe(task, args.budget, recipe)  # unknown budgets and settings refused up front
    alpha0 = args.alpha0
    if args.protocol == "lr-sweep":
        raise UserError(
            "evaluate trains one run; a ladder of rates is `derf-search run --protocol lr-sweep` "
            "(or evaluate with --recipe lr=…)"
        )
    if args.protocol == "ladder":
        raise UserError(
            "evaluate trains one run; a scale ladder is `derf-search run --protocol ladder` "
            "(or evaluate with --recipe width=…)"
        )
    if args.protocol in PROTOCOL_RECIPES:  # the protocol's own changes to the recipe
        check_protocol_recipe(args.protocol, recipe_items(args))
        recipe.update(PROTOCOL_RECIPES[args.protocol])
    if args.protocol == "gain-matched":
        if alpha0 is not None:
            raise UserError(f"--alpha0 and --protocol {args.protocol} both set α0: give one")
        entry = find_entry(args.candidate) if "(" not in args.candidate else None
        function = entry.expression if entry is not None else args.candidate
        if function is not None:  # a norm layer has no α
            alpha0 = protocol_alpha0(function, args.protocol)
    return task, recipe, alpha0


def _evaluate_json(result: Any) -> dict[str, Any]:
    return {
        "task": result.task,
        "candidate": result.candidate,
        "metric": result.metric,
        # a diverged run has no metric: null, never JSON-invalid NaN
        "value": _finite_or_none(result.value),
        "val_loss": _finite_or_none(result.val_loss),
        "train_loss_eval": _finite_or_none(result.train_loss_eval),
        "diverged": result.diverged,
        "diverged_step": result.diverged_step,
        "skipped_steps": result.skipped_steps,
        "attention_logit_peak": _finite_or_none(result.attention_logit_peak),
        "seconds": round(result.seconds, 3),
    }


def _print_evaluation(result: Any, curves: Path | None) -> None:
    if result.diverged:
        outcome = f"diverged at step {result.diverged_step}"
    else:
        outcome = f"{result.metric} {result.value:.4f} (best {result.best:.4f})"
    print(
        f"{result.task} / {result.candidate} / seed {result.seed}: {outcome}; val loss "
        f"{result.val_loss:.4f}, train loss (eval mode) {result.train_loss_eval:.4f}; "
        f"{result.steps} steps in {result.seconds:.1f} s on {result.device}"
        + (f" ({result.skipped_steps} skipped for fp16 overflow)" if result.skipped_steps else "")
    )
    if result.alpha is not None:
        shift_text = "-" if result.shift is None else f"{result.shift:.3f}"
        print(f"learned alpha {result.alpha:.3f}, shift {shift_text}")
    if result.attention_logit_peak is not None:
        print(f"largest attention logit |q·k|/√d {result.attention_logit_peak:.1f}")
    if curves is not None:
        print(f"growth curves: {curves} (and {curves.with_suffix('.svg').name})")


def add_candidate_commands(sub: Any) -> None:
    """The sub-parsers of `check`, `generate`, `tasks` and `evaluate`."""
    _add_check(sub)
    _add_generate(sub)
    p = sub.add_parser("tasks", help="list the proxy tasks")
    p.add_argument("--json", action="store_true", help="print the tasks as a JSON list")
    p.set_defaults(run=_tasks)
    _add_evaluate(sub)


def _add_check(sub: Any) -> None:
    p = sub.add_parser("check", help="check expressions against the four properties")
    p.add_argument(
        "expressions",
        nargs="*",
        metavar="EXPR",
        help="expressions in x (erf(x), x/(1 + abs(x)), …) or catalog names (isru)",
    )
    p.add_argument("--file", help="read expressions from a file, one per line (# comments)")
    p.add_argument("--grammar", help="grammar file whose primitives and tolerances to use")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.add_argument("--numeric-only", action="store_true", help="skip the sympy confirmation")
    p.set_defaults(run=_check)


def _add_generate(sub: Any) -> None:
    p = sub.add_parser("generate", help="enumerate a grammar, screen and dedupe candidates")
    p.add_argument("--grammar", help="grammar TOML file (default: the built-in default grammar)")
    p.add_argument("--max-size", type=number("COUNT"), help="override the grammar's size limit")
    p.add_argument(
        "--max-expressions", type=number("COUNT"), help="stop after this many expressions"
    )
    p.add_argument(
        "--sample",
        type=number("COUNT"),
        metavar="K",
        help="sample K random expressions instead of enumerating",
    )
    p.add_argument("--seed", type=number("SEED"), default=0, help="seed for --sample (default 0)")
    p.add_argument(
        "--out", default="results/generate", help="output directory (default results/generate)"
    )
    p.add_argument(
        "--max-candidates",
        type=number("COUNT"),
        default=2000,
        help="write (and confirm with sympy) the simplest N unique candidates "
        "(default 2000; all are counted and checked numerically)",
    )
    p.add_argument(
        "--symbolic-seconds",
        type=number("NON_NEGATIVE"),
        default=30.0,
        help="total time for sympy confirmation of the survivors (default 30)",
    )
    p.add_argument(
        "--workers", type=number("COUNT"), help="processes for the checks (default: all cores)"
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=_generate)


def _add_evaluate(sub: Any) -> None:
    p = sub.add_parser("evaluate", help="one proxy training run of a candidate on a task")
    p.add_argument(
        "candidate",
        metavar="CANDIDATE",
        help="an expression, a catalog name, layernorm, rmsnorm or dyt",
    )
    p.add_argument("--task", required=True, help="task name (see `derf-search tasks`)")
    p.add_argument(
        "--seed", type=number("SEED"), default=0, help="seed of data order and init (default 0)"
    )
    p.add_argument(
        "--alpha0",
        type=number("POSITIVE"),
        help="α's initial value (default: 0.5, or the catalog entry's)",
    )
    p.add_argument(
        "--shift",
        choices=["scalar", "vector", "none"],
        help="the template's s (default: scalar, or the catalog entry's: DyT has none)",
    )
    add_budget_option(p)
    add_protocol_options(p, ladder=False)
    p.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument(
        "--curves",
        metavar="PNG",
        help="plot the run's growth curves (attention logits, residual RMS, norm inputs, "
        "gradient and update sizes against step) to this .png, an .svg beside it",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=_evaluate)
