"""The commands that measure: `sanity-panel` and `benchmark`.

Example:
    $ derf-search sanity-panel --task mnist1d --seeds 5
    $ derf-search benchmark layer --shape 32,128,256
    $ derf-search benchmark hostile --cases 1000
"""

from __future__ import annotations

import argparse
from typing import Any

from ._args import add_budget_option, number, output_file, picture_path
from ._codes import EXIT_BUG


def _clip(text: str) -> float | None:
    """``none`` or a norm in the recipe's range, for ``--clip-grad``."""
    if text.strip().lower() == "none":
        return None
    from candidates import UserError
    from evaluators import RECIPE_RANGES

    kind = RECIPE_RANGES["clip_grad"]
    try:
        return float(kind.parse(text, "--clip-grad"))
    except UserError:
        raise argparse.ArgumentTypeError(f"'none' or {kind.describe()}, not {text!r}") from None


def _sanity_panel(args: argparse.Namespace) -> int:
    from candidates import UserError
    from evaluators import apply_recipe, get_task, make_norm, task_names

    from ..studies import panel_functions, sanity_panel

    recipe: dict[str, object] = {}
    for flag, key in (
        ("lr", "lr"),
        ("clip_grad", "clip_grad"),
        ("warmup", "warmup_fraction"),
        ("depth", "depth"),
    ):
        if getattr(args, flag) is not ...:
            recipe[key] = getattr(args, flag)
    out = output_file(args.out, "--out") if args.out else None  # refused before any run
    if out is not None and out.exists() and not args.force:
        raise UserError(f"--out {out} already exists: give --force to replace it")
    tasks = args.task or task_names()
    for name in tasks:  # unknown names and settings are refused before any run
        apply_recipe(get_task(name), args.budget, recipe)
    for fn in panel_functions(args.functions):
        make_norm(fn, 4)
    text = sanity_panel(
        tasks,
        seeds=args.seeds,
        budget=args.budget,
        workers=args.workers,
        out=out,
        recipe=recipe,
        functions=args.functions,
    )
    print(text)
    return 0


def _shape(text: str) -> tuple[int, int, int]:
    """``"32,128,256"`` -> (32, 128, 256), for ``benchmark layer --shape``."""
    parts = text.replace("x", ",").split(",")
    try:
        b, t, c = (int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"a shape is three positive integers B,T,C such as 32,128,256, not {text!r}"
        ) from None
    if min(b, t, c) < 1:
        raise argparse.ArgumentTypeError(f"every size of a shape must be positive, not {text!r}")
    return b, t, c


def _sizes(text: str) -> tuple[int, ...]:
    """``"1,4,16"`` -> (1, 4, 16), for ``benchmark throughput --pack``.

    >>> _sizes("1,4")
    (1, 4)
    """
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"pack sizes are positive integers such as 1,4,16, not {text!r}"
        ) from None
    if not sizes or min(sizes) < 1 or max(sizes) > 1024:
        raise argparse.ArgumentTypeError(f"every pack size is in 1..1024, not {text!r}")
    return sizes


def _benchmark(args: argparse.Namespace) -> int:
    from ..bench import benchmark_generate, benchmark_layer, benchmark_tasks

    status = 0

    if args.target in ("generate", "all"):
        benchmark_generate(
            max_expressions=args.max_expressions,
            grammar=args.grammar,
            repeats=args.repeats,
            max_candidates=args.max_candidates,
            workers=args.workers,
        )
    if args.target in ("layer", "all"):
        for shape in args.shape:
            benchmark_layer(shape=shape, compile_too=not args.no_compile, device=args.device)
    if args.target in ("tasks", "all"):
        benchmark_tasks(budget=args.budget)
    if args.target in ("search", "all"):
        from ..bench import SEARCH_BENCHMARK_TASK, benchmark_search

        benchmark_search(task=args.task or SEARCH_BENCHMARK_TASK, budget=args.budget)
    if args.target == "throughput":  # not part of `all`: minutes of training
        from ..bench import benchmark_throughput

        benchmark_throughput(
            task=args.task or "digits-dit",
            device=args.device,
            packs=args.pack,
            steps=args.steps,
            budget=args.budget,
            as_json=args.json,
        )
    if args.target == "sampler":  # not part of `all`: it needs a tabular benchmark
        from ..bench import DEFAULT_TABULAR, benchmark_sampler

        if args.plot:
            picture_path(args.plot, "--plot")

        benchmark_sampler(
            args.tabular or DEFAULT_TABULAR,
            replays=args.replays,
            task=args.task,
            as_json=args.json,
            plot=args.plot,
        )
    if args.target in ("hostile", "all"):
        from ..bench import benchmark_hostile
        from ._hostile_commands import command_corpus, run_any_case

        figures = benchmark_hostile(
            cases=args.cases,
            timeout=args.timeout,
            seed=args.seed,
            workers=args.workers or 1,
            commands=[] if args.no_commands else command_corpus(),
            run=run_any_case,
        )
        if figures.tracebacks or figures.hangs or figures.wrong:
            status = EXIT_BUG  # each is a bug in derf-search, listed above
    return status


def add_experiment_commands(sub: Any) -> None:
    """The sub-parsers of `sanity-panel` and `benchmark`."""
    _add_sanity_panel(sub)
    _add_benchmark(sub)


def _add_sanity_panel(sub: Any) -> None:
    p = sub.add_parser("sanity-panel", help="known-bad functions against erf on the proxy tasks")
    p.add_argument("--task", nargs="+", action="extend", help="tasks (default: all)")
    p.add_argument(
        "--seeds", type=number("COUNT"), default=5, help="seeds per function, paired (default 5)"
    )
    add_budget_option(p)
    p.add_argument(
        "--workers", type=number("COUNT"), default=2, help="Ray workers, one CPU each (default 2)"
    )
    p.add_argument("--out", help="also write the Markdown table here")
    p.add_argument("--force", action="store_true", help="replace the --out file if it exists")
    p.add_argument(
        "--functions", nargs="+", metavar="F", help="part of the panel, or other candidates"
    )
    recipe = p.add_argument_group("recipe changes, the same for every function")
    recipe.add_argument(
        "--lr",
        type=number("POSITIVE"),
        default=...,
        help="peak learning rate (default: the task's)",
    )
    recipe.add_argument(
        "--clip-grad",
        type=_clip,
        default=...,
        metavar="NORM|none",
        help="gradient clipping (default: the task's)",
    )
    recipe.add_argument(
        "--warmup",
        type=number("FRACTION"),
        default=...,
        help="warmup, a fraction of the steps (default: the task's)",
    )
    recipe.add_argument(
        "--depth",
        type=number("COUNT"),
        default=...,
        help="Transformer blocks (default: the task's)",
    )
    p.set_defaults(run=_sanity_panel)


def _add_benchmark(sub: Any) -> None:
    p = sub.add_parser(
        "benchmark",
        help="measure speed (generate, the layer, the tasks, the search path), robustness "
        "(hostile inputs) and samplers (replayed on a tabular benchmark)",
    )
    p.add_argument(
        "target",
        nargs="?",
        default="generate",
        choices=["generate", "layer", "tasks", "search", "hostile", "sampler", "throughput", "all"],
        help="what to measure (default generate; `all` is every one but sampler and throughput)",
    )
    p.add_argument(
        "--task",
        help="task for `search` (default mnist1d), `throughput` (default digits-dit) and "
        "`sampler` (default: the table's only task)",
    )
    p.add_argument(
        "--budget",
        default="default",
        help="task budget for `tasks` and `search` (default: default)",
    )
    p.add_argument("--no-compile", action="store_true", help="skip torch.compile in `layer`")
    p.add_argument(
        "--device",
        default="cpu",
        help="where `layer` and `throughput` run: cpu (default), cuda or auto",
    )
    p.add_argument(
        "--pack",
        type=_sizes,
        default=(1, 4, 16, 64),
        metavar="K,K,…",
        help="pack sizes `throughput` measures beside single runs (default 1,4,16,64)",
    )
    p.add_argument(
        "--steps",
        type=number("COUNT"),
        default=100,
        help="steps of each run `throughput` times (default 100)",
    )
    p.add_argument(
        "--shape",
        nargs="+",
        type=_shape,
        default=[(32, 128, 256)],
        metavar="B,T,C",
        help="tensor shapes for `layer` (default 32,128,256)",
    )
    p.add_argument(
        "--max-expressions",
        type=number("COUNT"),
        default=100_000,
        help="expressions `generate` enumerates (default 100000)",
    )
    p.add_argument(
        "--max-candidates",
        type=number("COUNT"),
        default=2000,
        help="candidates `generate` writes, each with sympy's texts and descriptors (default 2000)",
    )
    p.add_argument("--grammar", help="grammar TOML file (default: the built-in default grammar)")
    p.add_argument(
        "--repeats",
        type=number("COUNT"),
        default=1,
        help="times each measurement is taken (default 1)",
    )
    _add_hostile_and_sampler_options(p)
    p.set_defaults(run=_benchmark)


def _add_hostile_and_sampler_options(p: Any) -> None:
    p.add_argument(
        "--cases",
        type=number(integer=True, low=0),
        default=1000,
        help="seeded random inputs for `hostile`, beside its fixed corpus (default 1000)",
    )
    p.add_argument(
        "--timeout",
        type=number(low=0.1),
        default=20.0,
        help="seconds per input for `hostile` before it counts as a hang (default 20)",
    )
    p.add_argument(
        "--seed", type=number("SEED"), default=0, help="seed of the random inputs of `hostile`"
    )
    p.add_argument(
        "--tabular",
        metavar="RUN_DIR",
        help="the finished run `sampler` replays against (default results/tabular)",
    )
    p.add_argument(
        "--replays",
        type=number("COUNT"),
        default=20,
        help="seeded replays per sampler for `sampler` (default 20)",
    )
    p.add_argument(
        "--json", action="store_true", help="`sampler`, `throughput`: print the figures as JSON"
    )
    p.add_argument("--plot", metavar="PNG", help="`sampler`: also plot regret against trials here")
    p.add_argument(
        "--workers",
        type=number("COUNT"),
        default=None,
        help="worker processes for `hostile` (default 1) and `generate` (default: every core)",
    )
    p.add_argument(
        "--no-commands",
        action="store_true",
        help="`hostile`: leave out the hostile command lines (each run through derf-search in a "
        "sandbox: about a minute)",
    )
