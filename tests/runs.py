"""What the run tests share: a short run's settings, its trials read back, an embedded Ray for a
test module, and the command line in a child process.

Example:
    >>> from pathlib import Path
    >>> short_run(Path("out"), seeds=2).seeds
    2
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from search.driver import RunSettings, load_trials, open_studies

#: A small reference in the paper's schema: three tables, so that leave-one-table-out fits.
SMALL_REFERENCE = """table,property,base,variant,lam,value
T4,bounded,sign(x)*log(abs(x) + 1),plain,,82.2
T4,bounded,sign(x)*abs(x)**(2/3),plain,,
T4,bounded,x,plain,,
T5,center_sensitive,erf,flat,0,82.6
T5,center_sensitive,erf,flat,1,82.1
T5,center_sensitive,erf,flat,3,
T6,monotonic,erf,plain,,82.6
T6,monotonic,tanh,plain,,82.5
T6,monotonic,arctan,plain,,82.3
T6,monotonic,sin(x),plain,,81.6
"""

#: The repository's root (the working folder of a command run as a user runs it).
REPO = Path(__file__).resolve().parents[1]


def short_run(out: Path, **kw: Any) -> RunSettings:
    """A run of the baselines and one candidate on digits-vit at the quick budget."""
    values: dict[str, Any] = {
        "expressions": ("x/(1 + abs(x))",),
        "tasks": ("digits-vit",),
        "seeds": 1,
        "budget": "quick",
        "workers": 2,
        "device": "cpu",
        "out": str(out),
    }
    values.update(kw)
    return RunSettings(**values)


def trial_states(out: Path) -> pd.DataFrame:
    """The trials of the run directory ``out``, one row each, read from its study."""
    return load_trials(open_studies(out))


def embedded_ray(cpus: int = 2) -> Iterator[None]:
    """A local Ray of its own (never a cluster an address file names), shut down after."""
    import ray

    ray.init(address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`derf-search ARGS` in a child process (10 minutes at most), its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "search.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
    )
