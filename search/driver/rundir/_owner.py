"""Who drives a search: a driver's identity (host, pid, the process's start time, a token) as
it is recorded in a run directory's lock and a study's lease, and whether a recorded driver is
still alive.

Liveness is known only on the recording host: there a pid that no longer exists, or that now
belongs to a process started at another time (a reused pid), is gone. On another host it is
unknown (``None``) and the caller falls back on the lease's heartbeat.

Example:
    >>> me = Owner.this_process()
    >>> me.alive(), Owner.from_dict(me.to_dict()) == me
    (True, True)
    >>> Owner(host=me.host, pid=2**22 + 1, started=None, token="x").alive()
    False
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


def process_start(pid: int) -> int | None:
    """The start time of process ``pid`` in clock ticks since boot (Linux), or None where it
    cannot be read. Recorded beside the pid, it tells a reused pid from the original."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # Field 22 of proc(5); fields[0] here is field 3 (the command name ends at the last ")").
    return int(fields[19]) if len(fields) > 19 else None


#: An environment variable set in an embedded Ray's processes: the driver that started them.
DRIVER_MARK = "DERF_SEARCH_DRIVER"


@dataclass(frozen=True)
class Owner:
    """A driver process, as recorded by the run it drives."""

    host: str
    pid: int
    started: int | None  # the process's start in clock ticks since boot, where known
    token: str  # tells two drivers of one process apart (a process may run several searches)
    since: float = 0.0  # when it took the run (seconds since the epoch)

    @classmethod
    def this_process(cls) -> Owner:
        """This process, with a fresh token per call."""
        pid = os.getpid()
        return cls(socket.gethostname(), pid, process_start(pid), uuid.uuid4().hex, time.time())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Owner | None:
        """An owner read back from a record, or None if the record is not one."""
        try:
            started = data.get("started")
            return cls(
                host=str(data["host"]),
                pid=int(data["pid"]),
                started=int(started) if started is not None else None,
                token=str(data["token"]),
                since=float(data.get("since", 0.0)),
            )
        except (AttributeError, KeyError, TypeError, ValueError):
            return None

    def alive(self) -> bool | None:
        """True/False on the host that recorded it, None (unknown) on any other."""
        if self.host != socket.gethostname():
            return None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # it exists, under another user
            return True
        if self.started is None:
            return True
        return process_start(self.pid) == self.started

    @property
    def mark(self) -> str:
        """The value of :data:`DRIVER_MARK` in the environment of every process this driver's
        embedded Ray starts, by which a later driver finds them if this one died."""
        return f"{self.host}:{self.pid}:{self.started}"

    def describe(self) -> str:
        """`pid 123 on host h, since 2026-11-28 19:40`."""
        since = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.since))
        return f"pid {self.pid} on host {self.host}, since {since}"


def leftovers(owner: Owner) -> list[int]:
    """The processes still running that ``owner``'s embedded Ray started (Linux: read from
    each process's environment; elsewhere none are found)."""
    wanted = f"{DRIVER_MARK}={owner.mark}".encode()
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if wanted in environ.split(b"\0") and int(entry.name) != os.getpid():
            found.append(int(entry.name))
    return found


def reap(owner: Owner) -> int:
    """Stop what a dead driver's embedded Ray left running (its raylet dies with the driver;
    Ray's agents would linger for a minute or two). Returns how many were stopped."""
    if owner.alive() is not False:
        return 0
    stopped = 0
    for pid in leftovers(owner):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
            stopped += 1
    return stopped
