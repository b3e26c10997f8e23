"""`python -m search.cli …` is `derf-search …`."""

from __future__ import annotations

import sys

from . import main

sys.exit(main())
