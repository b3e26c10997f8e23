"""A search on a real Ray cluster of several nodes on this machine, started the way a user
starts one (`ray start --head`, then `ray start --address` per node, token authentication on),
with a node killed mid-run; and the processes a driver's embedded Ray leaves behind.

Every Ray process here runs with its own RAY_TMPDIR, so the tests neither see nor touch any
other Ray on the machine, and find their processes by that variable (torn down by pid)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[4]
RAY = str(Path(sys.executable).parent / "ray")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _marked(value: str) -> list[int]:
    """Processes whose environment holds ``value`` (a variable=value pair)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if value.encode() in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.fixture
def ray_env(tmp_path):
    """An environment of its own for Ray: a short temp dir (Ray's socket paths are limited),
    a home for the token file, no RAY_* settings inherited; every process left is killed."""
    temp = Path(tempfile.mkdtemp(prefix="r", dir="/tmp"))
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "DERF_"))}
    env.update(RAY_TMPDIR=str(temp), HOME=str(home), PYTHONPATH=str(REPO))
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    yield env
    for pid in _marked(f"RAY_TMPDIR={temp}"):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "search.cli", *args]


def _run_args(out: Path, *extra: str) -> list[str]:
    return _cli(
        "run",
        "--expr",
        "isru",
        "arctan",
        "--task",
        "digits-vit",
        "--budget",
        "quick",
        "--seeds",
        "1",
        "--device",
        "cpu",
        "--no-progress",
        "--out",
        str(out),
        *extra,
    )


def _start_run(out: Path, env: dict, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        _run_args(out, *extra),
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_a_trial(out: Path, driver: subprocess.Popen, limit: float = 300) -> None:
    """Until the run's first trial is told (its study says COMPLETE)."""
    deadline = time.time() + limit
    while _told(out) < 1:
        assert driver.poll() is None, driver.communicate()
        assert time.time() < deadline
        time.sleep(0.5)


def _trials(out: Path) -> pd.DataFrame:
    return pd.read_parquet(out / "trials.parquet")


@pytest.mark.slow  # a three-node cluster and a search on it: about 2 minutes
@pytest.mark.ci  # the Ray cluster
def test_a_search_on_a_cluster_started_by_ray_start_survives_a_lost_node(ray_env, tmp_path):
    # A token, as Ray's own tools make it (an embedded run makes one too): with it at hand,
    # `ray start --head` turns token authentication on.
    subprocess.run(
        [RAY, "get-auth-token", "--generate"], env=ray_env, check=True, capture_output=True
    )
    port = _free_port()
    head = subprocess.Popen(
        [RAY, "start", "--head", f"--port={port}", "--num-cpus=0", "--block"],
        env=ray_env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _wait_for_nodes(port, 1, ray_env, head)
    assert b"Token authentication is enabled" in _stderr_so_far(head)
    nodes = []
    for n in range(2):
        log = (tmp_path / f"node{n}.log").open("wb")
        nodes.append(
            subprocess.Popen(
                [RAY, "start", f"--address=127.0.0.1:{port}", "--num-cpus=1", "--block"],
                env={**ray_env, "RAY_AUTH_MODE": "token"},  # as Ray asks of a joining node
                start_new_session=True,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        _wait_for_nodes(port, n + 2, ray_env, nodes[-1])
    out = tmp_path / "run"
    # as a user types it: no RAY_AUTH_MODE, only the address
    driver = _start_run(out, ray_env, "--workers", "2", "--ray-address", f"127.0.0.1:{port}")
    # once the first trial is told, both nodes' workers are busy: remove one node, abruptly
    _wait_for_a_trial(out, driver)
    os.killpg(nodes[0].pid, signal.SIGKILL)
    _, err = driver.communicate(timeout=600)
    assert driver.returncode == 0, err
    trials = _trials(out)
    done = trials[trials["state"] == "COMPLETE"]
    # every candidate × seed exactly once, none lost with the node
    assert sorted(done["candidate_id"]) == sorted(set(done["candidate_id"]))
    assert len(done) == 6
    # the lost node's trial ran again on the other node (which node told the trials that
    # finished depends on which finished first, so their nodes prove nothing more)
    assert (done["attempts"] == 2).sum() >= 1
    for proc in (head, *nodes):
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)


def _wait_for_nodes(port: int, n: int, env: dict, proc: subprocess.Popen) -> None:
    """Wait until the cluster at ``port`` has ``n`` live nodes (``ray status`` says so)."""
    deadline = time.time() + 120
    while time.time() < deadline:
        assert proc.poll() is None, f"`ray start` ended with status {proc.returncode}"
        status = subprocess.run(
            [RAY, "status", f"--address=127.0.0.1:{port}"],
            env={**env, "RAY_AUTH_MODE": "token"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        alive = status.stdout.split("Pending:")[0].count("node_")
        if alive >= n:
            return
        time.sleep(2)
    raise AssertionError(f"the cluster did not reach {n} nodes: {status.stdout}{status.stderr}")


def _stderr_so_far(proc: subprocess.Popen) -> bytes:
    assert proc.stderr is not None
    os.set_blocking(proc.stderr.fileno(), False)
    return proc.stderr.read() or b""


def _told(out: Path) -> int:
    import sqlite3

    if not (out / "study.db").exists():
        return 0
    try:
        with sqlite3.connect(out / "study.db") as db:
            query = "select count(*) from trials where state = 'COMPLETE'"
            return int(db.execute(query).fetchone()[0])
    except sqlite3.Error:
        return 0


@pytest.mark.slow  # three embedded runs: about 2 minutes
def test_an_embedded_run_leaves_no_ray_processes_and_ignores_a_dead_cluster(ray_env, tmp_path):
    # A dead cluster's address file, as a killed `ray start` leaves it.
    ray_dir = Path(ray_env["RAY_TMPDIR"]) / "ray"
    ray_dir.mkdir()
    (ray_dir / "ray_current_cluster").write_text(f"127.0.0.1:{_free_port()}")
    marker = f"RAY_TMPDIR={ray_env['RAY_TMPDIR']}"
    out = tmp_path / "run"
    proc = _start_run(out, ray_env, "--workers", "1")
    _wait_for_a_trial(out, proc)
    assert len(_marked(marker)) > 3  # the driver, Ray's servers, agents and a worker
    os.kill(proc.pid, signal.SIGKILL)  # the driver alone: Ray's processes are left to us
    proc.wait()
    resumed = subprocess.run(
        _cli("run", "--resume", str(out), "--no-progress"),
        cwd=REPO,
        env=ray_env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert _trials(out)["state"].eq("COMPLETE").sum() == 6
    # the resume stopped what the killed driver's Ray left; its own Ray ended with it
    deadline = time.time() + 30
    while _marked(marker) and time.time() < deadline:
        time.sleep(1)
    assert _marked(marker) == []
