"""What the run tests share: a short run's settings, and an embedded Ray for a test module.

Example:
    >>> from pathlib import Path
    >>> short_run(Path("out"), seeds=2).seeds
    2
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from search.driver import RunSettings


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


def embedded_ray(cpus: int = 2) -> Iterator[None]:
    """A local Ray of its own (never a cluster an address file names), shut down after."""
    import ray

    ray.init(address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()
