"""Ray's token authentication, for a cluster named with ``--ray-address``.

Since Ray 2.5x, ``ray start --head`` turns token authentication on and keeps the token in
``~/.ray/auth_token``; a process that joins it by address must have ``RAY_AUTH_MODE=token`` set
before Ray is imported, or Ray refuses the connection after about 20 s. The command line sets
it for the user when a token is at hand (``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH`` or the
default file) and the variable is unset: a cluster without authentication accepts such a
client too. ``RAY_AUTH_MODE=disabled`` keeps the token at home.

Example:
    >>> import os
    >>> env = {"RAY_AUTH_MODE": "disabled"}
    >>> token_mode_for("10.0.0.1:6379", env, imported=False), env["RAY_AUTH_MODE"]
    (False, 'disabled')
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping
from pathlib import Path

AUTH_MODE = "RAY_AUTH_MODE"
#: Where a token may be, in the order Ray looks.
TOKEN_VARIABLES = ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")
DEFAULT_TOKEN = Path("~/.ray/auth_token")

AUTH_HINT = (
    "a cluster started by `ray start` uses token authentication unless started with "
    "RAY_AUTH_MODE=disabled: run with RAY_AUTH_MODE=token and its token in ~/.ray/auth_token "
    "or RAY_AUTH_TOKEN"
)


def token_mode_for(
    address: str | None,
    environ: MutableMapping[str, str] | None = None,
    *,
    imported: bool | None = None,
) -> bool:
    """Set ``RAY_AUTH_MODE=token`` in ``environ`` (this process's by default) for a run that
    joins ``address``, if a token is at hand and the user has not chosen a mode; True if set.
    It must happen before Ray is imported (``imported``: whether it has been)."""
    env = os.environ if environ is None else environ
    imported = "ray" in sys.modules if imported is None else imported
    if not address or AUTH_MODE in env or imported:
        return False
    at_hand = any(env.get(name) for name in TOKEN_VARIABLES)
    if not at_hand and not DEFAULT_TOKEN.expanduser().is_file():
        return False
    env[AUTH_MODE] = "token"
    return True
