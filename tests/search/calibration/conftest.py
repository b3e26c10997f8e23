"""What the calibration tests share: a reference table written to a file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

HEADER = "table,property,base,variant,lam,value\n"


@pytest.fixture
def write_reference(tmp_path: Path) -> Callable[..., Path]:
    """``write_reference(body, header=HEADER)``: a reference CSV of ``body``'s rows."""

    def write(body: str, header: str = HEADER) -> Path:
        path = tmp_path / "reference.csv"
        path.write_text(header + body)
        return path

    return write
