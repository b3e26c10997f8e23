"""What `derf-search run` was asked for: one frozen dataclass, written to and read back from
the run directory's ``config.toml`` so that ``--resume RUN_DIR`` needs nothing else.

Example:
    >>> s = RunSettings(catalog="paper", tasks=("mnist1d",), seeds=2)
    >>> RunSettings.from_dict(s.to_dict()) == s
    True
    >>> s.storage_url()
    'sqlite:///results/run/study.db'
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import tomli_w

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

from ._protocol import (
    OBJECTIVES,
    PROTOCOLS,
    SWEEP_OBJECTIVES,
    check_protocol_recipe,
    ladder_widths,
)

SAMPLERS = ("grid", "random", "tpe", "guided")
#: Up to this many candidates a trial's ``candidate`` is a categorical over their keys (a
#: trial then stores at most ~40 KB of choices); past it, an index
#: (:class:`search.driver.CandidateParameter`).
CATEGORICAL_LIMIT = 2000
#: The task a run or study trains on when none is named: digits-dit, the built-in task whose
#: ranking is stable from seed to seed (Kendall τ 0.78 over the catalog) and whose leader is
#: beyond paired seed noise from erf at three seeds (see docs/calibration.md).
DEFAULT_TASK = "digits-dit"
#: Seeds per candidate of a run: three give a paired t-test two degrees of freedom (two give one,
#: which separates almost nothing).
DEFAULT_SEEDS = 3
#: The cells a calibration runs: a subset that decides a recipe in one sitting, or all.
CELLS = ("decisive", "all")
#: A reference cell this many points or more below its reference cells is a degraded training
#: (the calibration default; ``degrade_points`` changes it).
DEGRADE_POINTS = 0.4
PRUNERS = ("none", "median", "successive-halving", "hyperband")


def _check_choice(kind: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        from candidates import UserError, suggest  # not at import: `--help` stays light

        raise UserError(
            f"unknown {kind} {value!r}{suggest(value, list(choices))} (known: {', '.join(choices)})"
        )


#: The longest name a study or task may have (a folder name on every common file system).
NAME_LIMIT = 255


def check_name(text: str, what: str) -> str:
    """``text`` if it can name one folder, else a one-line refusal: a name becomes a folder
    (``results/<study name>``), so it may not hold a separator, be ``.`` or ``..``, hold a
    control character or be empty.

    >>> check_name("run (2)", "--study-name")
    'run (2)'
    >>> check_name("../../x", "--study-name")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    candidates._errors.UserError: --study-name must name one folder (...), not '../../x'
    """
    bad = (
        not isinstance(text, str)
        or text.strip() in ("", ".", "..")
        or len(text) > NAME_LIMIT
        or any(c in "/\\" or not c.isprintable() for c in text)
    )
    if bad:
        from candidates import UserError

        raise UserError(
            f"{what} must name one folder (no / or \\, not . or .., no control character, "
            f"at most {NAME_LIMIT} characters), not {text!r}"
        )
    return text


def _check_type(name: str, value: Any, annotation: str) -> None:
    """A ``config.toml`` value of the type its setting is declared with (numbers are checked
    with their ranges by the settings themselves)."""
    from candidates import UserError

    # each declared type: the Python types its value may have, and its name in a message
    kinds: dict[str, tuple[type | tuple[type, ...], str]] = {
        "str": (str, "a string"),
        "bool": (bool, "true or false"),
        "int": (int, "an integer"),
        "float": ((int, float), "a number"),
    }
    base = annotation.replace(" | None", "")
    if base.startswith("tuple["):
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return
        wanted = "a list of strings"
    else:
        if base not in kinds:
            return
        kind, wanted = kinds[base]
        if isinstance(value, kind) and (base == "bool") == isinstance(value, bool):
            return
    raise UserError(f"setting {name} must be {wanted}, not {value!r}")


def check_sample(sample: int | None, max_expressions: int | None) -> None:
    """Refuse a sample beside an enumeration's size, or an empty sample.

    >>> check_sample(100, 5000)
    Traceback (most recent call last):
    ...
    candidates._errors.UserError: give either --sample or --max-expressions, not both
    """
    from candidates import UserError

    if sample is not None and max_expressions is not None:
        raise UserError("give either --sample or --max-expressions, not both")
    if sample is not None and sample < 1:
        raise UserError(f"the sample size must be at least 1, but got {sample}")


def check_sampler_fits(sampler: str, candidates: int, *, up_to: bool = False) -> None:
    """Refuse TPE over a pool too large for a categorical (``up_to``: ``candidates`` is what
    the run may take, before its pool is built).

    >>> check_sampler_fits("tpe", 55_000)
    Traceback (most recent call last):
    ...
    candidates._errors.UserError: --sampler tpe learns the candidate as one categorical, which \
Optuna stores with every trial: at most 2,000 candidates, and this run has 55,000; use --sampler \
guided (or random)
    """
    if sampler == "tpe" and candidates > CATEGORICAL_LIMIT:
        from candidates import UserError

        raise UserError(
            "--sampler tpe learns the candidate as one categorical, which Optuna stores with "
            f"every trial: at most {CATEGORICAL_LIMIT:,} candidates, and this run "
            f"{'may take up to' if up_to else 'has'} {candidates:,}; use --sampler guided "
            "(or random)"
        )


@dataclass(frozen=True)
class RunSettings:
    """The resolved settings of one search."""

    # candidates (several sources add up; the baselines are always there), or a built-in study
    study: str | None = None
    grammar: str | None = None
    catalog: str | None = None
    candidates_dir: str | None = None
    expressions: tuple[str, ...] = ()
    max_expressions: int | None = None  # with a grammar: enumerate at most this many
    # with a grammar: screen about this many random expressions (seeded by sample_seed)
    # instead of enumerating the simplest, so the whole space is reachable
    sample: int | None = None
    sample_seed: int | None = None  # None: 0
    max_candidates: int = 200  # with a grammar: evaluate the simplest N survivors
    shift: str = "scalar"
    # what each trial trains
    tasks: tuple[str, ...] = (DEFAULT_TASK,)
    seeds: int = DEFAULT_SEEDS
    budget: str = "default"
    alpha0: float | None = None  # None: each candidate's own (DEFAULT_ALPHA0 or its entry's)
    tune_alpha: bool = False
    device: str = "auto"
    # scheduling
    sampler: str = "grid"
    pruner: str = "none"
    max_trials: int | None = None  # per task; None: every candidate × seed once
    timeout: float | None = None  # seconds after which no new trial starts
    # execution
    workers: int = 2
    gpus_per_trial: float = 0.0
    # trials a worker trains at once as one batched model (evaluators.train_packed): a count,
    # or "auto" (the worker's device decides, evaluators.auto_pack); "1": one at a time
    pack: str = "1"
    ray_address: str | None = None
    storage: str | None = None  # None: SQLite under the run directory
    study_name: str = "run"
    out: str = "results/run"
    # how each candidate is trained: a protocol, and recipe changes (KEY=VALUE, the same for
    # every function; see evaluators.parse_recipe)
    protocol: str = "single"
    recipe: tuple[str, ...] = ()
    # the ladder protocol's widths, integers joined by commas (None: LADDER_WIDTHS)
    widths: str | None = None
    objective: str = "final"  # what the leaderboard ranks by (see search.driver.OBJECTIVES)
    # the objective predicted: the run directory whose reference functions fit the predictor
    predictor: str | None = None
    # a calibration (study "calibration"): the reference table, the cells run, and the
    # reference's degrade threshold in its own points (None: the calibration default)
    reference: str | None = None  # None: the built-in one (search.calibration.PAPER_REFERENCE)
    cells: str = "all"
    degrade_points: float | None = None
    # a prediction run (study "prediction"): how its report is fitted, so that a resume fits
    # what the run was started for (the candidates it predicts beside the reference's cells
    # are ``catalog``, ``expressions`` and ``candidates_dir`` above, which a new run trains)
    target: str | None = None  # the scale extrapolated to (None: search.prediction.Target())
    feature_sets: str | None = None  # None: every feature set
    measures: str | None = None  # None: every measure
    sources: tuple[str, ...] = ()  # more run directories read as trained features

    def __post_init__(self) -> None:
        from candidates import UserError

        _check_choice("sampler", self.sampler, SAMPLERS)
        _check_choice("pruner", self.pruner, PRUNERS)
        _check_choice("shift", self.shift, ("scalar", "vector", "none"))
        _check_choice("protocol", self.protocol, PROTOCOLS)
        _check_choice("cells", self.cells, CELLS)
        _check_choice("objective", self.objective, OBJECTIVES)
        if self.objective in SWEEP_OBJECTIVES and self.protocol != "lr-sweep":
            raise UserError(
                f"--objective {self.objective} ranks over a learning-rate ladder: "
                "use it with --protocol lr-sweep"
            )
        self._check_predicted()
        self._check_numbers()
        self._check_pack()
        if self.recipe:
            from evaluators import parse_recipe

            parse_recipe(self.recipe)  # refused here, before anything runs
        if not self.tasks:
            raise UserError("give at least one task")
        for task in self.tasks:
            check_name(task, "--task")
        check_name(self.study_name, "--study-name")
        if self.sample is not None:
            if self.grammar is None:
                raise UserError("--sample draws from a grammar: give --grammar too")
            check_sample(self.sample, self.max_expressions)
        if self.protocol in ("lr-sweep", "ladder") and self.pruner != "none":
            raise UserError(
                f"--protocol {self.protocol} scores each candidate over its whole ladder: "
                "a pruner would leave ladders incomplete (use --pruner none)"
            )
        check_protocol_recipe(self.protocol, self.recipe)
        self._check_widths()
        if self.protocol == "gain-matched" and (self.alpha0 is not None or self.tune_alpha):
            raise UserError(
                f"--protocol {self.protocol} sets each function's α0: "
                "leave out --alpha0 and --tune-alpha"
            )
        if self.tune_alpha and self.sampler == "grid":
            raise UserError(
                "--tune-alpha samples α0 on a log scale, which a grid cannot: "
                "use --sampler random, tpe or guided"
            )

    def _check_numbers(self) -> None:
        """Every number setting in its range, whether it came from the command line, the
        Python API or a hand-edited ``config.toml``: the one validation of
        :mod:`candidates`' ranges (a wrong type is refused as well)."""
        from candidates import COUNT, NON_NEGATIVE, POSITIVE, SEED

        ranges = {
            "seeds": COUNT,
            "workers": COUNT,
            "max_candidates": COUNT,
            "max_expressions": COUNT,
            "sample": COUNT,
            "max_trials": COUNT,
            "sample_seed": SEED,
            "gpus_per_trial": NON_NEGATIVE,
            "alpha0": POSITIVE,
            "timeout": POSITIVE,
            "degrade_points": POSITIVE,
        }
        for name, kind in ranges.items():
            value = getattr(self, name)
            if value is not None:
                kind.check(value, name.replace("_", "-"))

    def _check_widths(self) -> None:
        """A ladder's widths (``widths``, else the default): at least three, each one every
        task's model can have, refused before anything trains."""
        from candidates import UserError

        if self.protocol != "ladder":
            if self.widths is not None:
                raise UserError("--widths are a ladder's: use them with --protocol ladder")
            return
        from evaluators import apply_recipe, get_task

        widths = ladder_widths(self.widths)
        for task in map(get_task, self.tasks):  # a task's own errors are not the widths'
            for width in widths:
                try:  # the recipe's rule for a width (its attention heads), in one place
                    apply_recipe(task, "default", {"width": width})
                except UserError as exc:
                    raise UserError(f"--widths {','.join(map(str, widths))}: {exc}") from None

    def _check_pack(self) -> None:
        """``pack``: "auto" or a count up to :data:`evaluators.MAX_PACK`."""
        from candidates import UserError

        if self.pack == "auto":
            return
        if not isinstance(self.pack, str) or not self.pack.isdigit() or int(self.pack) < 1:
            raise UserError(f"--pack must be auto or a count of trials, not {self.pack!r}")
        if self.pack == "1":  # the default: no need to import torch for its bound
            return
        from evaluators import MAX_PACK

        if int(self.pack) > MAX_PACK:
            raise UserError(f"--pack {self.pack}: at most {MAX_PACK} trials train as one pack")

    def _check_predicted(self) -> None:
        """The predicted objective: a predictor's run directory, and candidates trained as the
        reference's functions were (without s, at the default α0), so that their features
        mean what the predictor learned."""
        from candidates import UserError

        if self.objective != "predicted":
            if self.predictor is not None:
                raise UserError("--predictor serves --objective predicted: give that too")
            return
        if self.predictor is None:
            raise UserError(
                "--objective predicted needs --predictor RUN_DIR: a prediction run of the same "
                "task, protocol, budget and recipe (derf-search predict --task T ...)"
            )
        if self.protocol == "lr-sweep":
            raise UserError("--objective predicted reads no lr-sweep runs: use another protocol")
        if self.shift != "none" or self.alpha0 is not None or self.tune_alpha:
            raise UserError(
                "--objective predicted compares candidates with the reference's functions, "
                "trained without s at the default α0: use --shift none, without --alpha0 or "
                "--tune-alpha"
            )

    @property
    def run_dir(self) -> Path:
        return Path(self.out)

    def storage_url(self) -> str:
        """The Optuna storage: the URL given, or SQLite under the run directory."""
        return self.storage or f"sqlite:///{self.run_dir / 'study.db'}"

    def study_for(self, task: str) -> str:
        """One Optuna study per task: each has its own direction, and pruners compare like
        with like."""
        return f"{self.study_name}:{task}"

    #: The settings that decide what a trial of the run is (not how or how many are run).
    TRIAL_SETTINGS = ("budget", "alpha0", "tune_alpha", "shift", "protocol", "recipe")

    def fingerprint(self, candidates: Sequence[str]) -> str:
        """What a study's trials mean, as a short hash of :data:`TRIAL_SETTINGS` and the
        candidate keys: a study that holds another fingerprint is another run's.

        >>> a = RunSettings(seeds=2).fingerprint(["erf", "tanh"])
        >>> a == RunSettings(seeds=5, workers=8).fingerprint(["tanh", "erf"])
        True
        >>> a == RunSettings(budget="quick").fingerprint(["erf", "tanh"])
        False
        """
        import hashlib
        import json

        what = {name: getattr(self, name) for name in self.TRIAL_SETTINGS}
        what["candidates"] = sorted(candidates)
        text = json.dumps(what, sort_keys=True, default=list)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        # TOML has no null: unset options are left out and come back as their defaults.
        return {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in asdict(self).items()
            if v is not None
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSettings:
        from candidates import UserError

        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UserError(f"unknown settings in config.toml: {', '.join(unknown)}")
        if isinstance(data.get("catalog"), bool):  # runs of `predict` once recorded its flag
            data = {**data, "catalog": "paper" if data["catalog"] else None}
            data = {k: v for k, v in data.items() if v is not None}
        for field in fields(cls):
            if field.name in data:
                _check_type(field.name, data[field.name], str(field.type))
        values: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in data.items()
        }
        return cls(**values)

    def with_out(self, out: str | Path) -> RunSettings:
        return replace(self, out=str(out))

    def write(self, path: Path, extra: dict[str, Any]) -> None:
        path.write_text(tomli_w.dumps({"settings": self.to_dict(), **extra}))

    @classmethod
    def read(cls, run_dir: str | Path) -> RunSettings:
        """The settings a run directory was started with."""
        from candidates import UserError

        path = Path(run_dir) / "config.toml"
        if not path.is_file():
            raise UserError(f"{run_dir} is not a run directory: it has no config.toml")
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise UserError(f"{path} is not valid TOML ({exc}): was it edited by hand?") from None
        if data.get("command") != "run":
            raise UserError(f"{path} was not written by `derf-search run`")
        if not isinstance(data.get("settings"), dict):
            raise UserError(f"{path} has no [settings] table: was it edited by hand?")
        try:
            return cls.from_dict(data["settings"])
        except UserError as exc:
            raise UserError(f"{path}: {exc}") from None
