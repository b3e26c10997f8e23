"""The files of a run directory, by name, and the checks on them that need no study: whether
a path can be written, whether a run's own study file is there, a parquet file of the record
read back (one that cannot be is one line).

Example:
    >>> import tempfile
    >>> from search.driver import RunSettings
    >>> run = Path(tempfile.mkdtemp())
    >>> study_missing(RunSettings(out=str(run))), study_missing(RunSettings(storage="sqlite://"))
    (True, False)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from candidates import UserError

if TYPE_CHECKING:
    from ._settings import RunSettings

#: The files a run directory holds from its start (a directory with them is a run of ours).
RUN_FILES = ("config.toml", "candidates.parquet")
#: The default storage's file in a run directory, and the copy of its trials beside it.
STUDY_FILE = "study.db"
TRIALS_FILE = "trials.parquet"


def require_writable(path: Path, *, folder: bool = True) -> None:
    """Refuse a path this user cannot write (or the nearest folder above it that exists), a
    path under a file, and (``folder``) a file where a folder belongs."""
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing == path and folder and not path.is_dir():
        raise UserError(f"--out {path} is a file, not a folder: choose another --out")
    if existing != path and not existing.is_dir():
        raise UserError(f"{path}: {existing} is a file, not a folder (choose another --out)")
    if not os.access(existing, os.W_OK):
        raise UserError(f"cannot write to {existing}: permission denied (choose another --out)")


def read_record_file(path: str | Path, *, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """A parquet file of a run's record (``columns`` of it, or all); one that cannot be read
    (cut short, overwritten, not parquet) is one :class:`UserError` line naming it."""
    try:
        return pd.read_parquet(path, columns=None if columns is None else list(columns))
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise UserError(f"{path} cannot be read ({type(exc).__name__}): is it damaged?") from None


def study_missing(settings: RunSettings) -> bool:
    """Whether a run's own study file is missing or empty (0 bytes: never written, or
    emptied), so that it holds no trials; never for a storage given by URL (the user's)."""
    study = settings.run_dir / STUDY_FILE
    return settings.storage is None and (not study.is_file() or study.stat().st_size == 0)
