"""`derf-search benchmark hostile`: its counts add up, and its workers report a hang, a crash
and a warning as such (and carry on)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import warnings

from search.bench import HostileCase, hostile_corpus, random_cases, run_cases


def test_the_benchmark_prints_counts_that_add_up() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "search.cli",
            "benchmark",
            "hostile",
            "--cases",
            "30",
            "--no-commands",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {}
    for line in done.stdout.splitlines():
        match = re.match(r"(expression|grammar|all)" + r"\s+(\d+)" * 6, line)
        if match:
            rows[match.group(1)] = [int(v) for v in match.groups()[1:]]
    assert set(rows) == {"expression", "grammar", "all"}, done.stdout
    tried, handled, results, errors, tracebacks, hangs = rows["all"]
    assert tried == len(hostile_corpus()) + 30
    assert handled == results + errors and tried == handled + tracebacks + hangs
    assert (tracebacks, hangs) == (0, 0), done.stdout
    assert [a + b for a, b in zip(rows["expression"], rows["grammar"], strict=True)] == rows["all"]
    assert re.search(r"peak memory\s+\d+ MiB", done.stdout)
    assert re.search(r"warnings\s+\d+ cases", done.stdout)


def misbehave(case: HostileCase) -> tuple[str, str]:
    """A stand-in for run_case that hangs or dies on request (it runs in a worker process)."""
    if case.text == "hang":
        time.sleep(3600)
    if case.text == "crash":
        os._exit(3)
    if case.text == "warn":
        warnings.warn("noise on stderr", stacklevel=1)
    return "result", "fine"


def test_workers_report_a_hang_a_crash_a_warning_and_go_on() -> None:
    cases = [HostileCase("expression", t, "test") for t in ("hang", "ok", "crash", "warn")]
    start = time.perf_counter()
    outcomes = [o for o, _ in run_cases(cases, timeout=2.0, workers=2, run=misbehave)]
    assert time.perf_counter() - start < 60
    status = {o.case.text: o.status for o in outcomes}
    assert status == {"hang": "hang", "ok": "result", "crash": "traceback", "warn": "result"}
    assert [o.warning.split(": ", 1)[1] for o in outcomes if o.warning] == [
        "UserWarning: noise on stderr"
    ]
    crash = next(o for o in outcomes if o.case.text == "crash")
    assert "exit code 3" in crash.detail


def test_random_cases_are_the_same_for_a_seed_and_differ_between_seeds() -> None:
    assert random_cases(20, seed=3) == random_cases(20, seed=3)
    assert random_cases(20, seed=3) != random_cases(20, seed=4)
