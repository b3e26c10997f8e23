"""What the driver's tests share: an embedded Ray per test module that asks for it
(``pytestmark = pytest.mark.usefixtures("local_ray")``), and one finished run for the tests
that only read a run directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from search.driver import run_search
from search.reports import write_outputs
from tests.runs import embedded_ray, short_run


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    yield from embedded_ray()


@pytest.fixture(scope="package")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """A run of the baselines and one candidate at two seeds, with its reports (what the
    command writes after the driver returns). Runs on the Ray of the module that first asks
    for it, or on its own."""
    out = tmp_path_factory.mktemp("finished") / "run"
    summary = run_search(short_run(out, seeds=2), progress=False, max_steps=3)
    write_outputs(out)
    return out, summary
