"""One driver per run directory: a lock file that names its holder.

The lock is an advisory ``flock`` on ``RUN_DIR/driver.lock``, so the operating system drops it
when the holder dies in any way (SIGKILL included): a stale lock is one nobody holds, and the
next driver takes it. The file's text names the holder (host, pid, since when) for the message
that refuses a second driver; the file itself stays, empty, after a clean end.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> run = Path(tempfile.mkdtemp())
    >>> with hold_run_dir(run) as previous:
    ...     print(previous, (run / LOCK_FILE).read_text().startswith("{"))
    None True
    >>> (run / LOCK_FILE).read_text()
    ''
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path

from candidates import UserError

from ._owner import Owner

#: The lock file in a run directory (it is part of every run directory).
LOCK_FILE = "driver.lock"


class RunInUse(UserError):
    """Another driver holds the run directory (or the study)."""


@contextlib.contextmanager
def hold_run_dir(run_dir: str | Path) -> Iterator[Owner | None]:
    """Hold ``run_dir``'s lock while the block runs; refuse with :class:`RunInUse` if another
    driver holds it. Yields the owner a previous driver left recorded without a clean end (it
    died: its lock was stale), or None."""
    path = Path(run_dir) / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            who = holder.describe() if holder is not None else "another driver"
            raise RunInUse(
                f"{run_dir} is being run by {who}: one driver per run directory; wait for it "
                f"to end (`derf-search leaderboard {run_dir}` shows its progress) or stop it"
            ) from None
        previous = _read(fd)
        _write(fd, json.dumps(Owner.this_process().to_dict()))
        try:
            yield previous
        finally:
            _write(fd, "")
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _read(fd: int) -> Owner | None:
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 1 << 16).decode("utf-8", "replace")
    try:
        return Owner.from_dict(json.loads(text)) if text.strip() else None
    except json.JSONDecodeError:
        return None


def _write(fd: int, text: str) -> None:
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, text.encode())
