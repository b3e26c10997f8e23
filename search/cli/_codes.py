"""Exit statuses of the command line.

Example:
    >>> EXIT_USAGE, EXIT_BUG, EXIT_INTERRUPTED
    (2, 1, 130)
"""

from __future__ import annotations

#: A user's mistake: one line on stderr.
EXIT_USAGE = 2
#: A bug (with its traceback); also output cut short by a closed pipe, as Python's own.
EXIT_BUG = 1
#: Ctrl-C or SIGTERM: the work so far is kept and can be resumed.
EXIT_INTERRUPTED = 130
