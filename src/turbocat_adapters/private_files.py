"""Files only the server's own user may read: the data directory and what is kept there."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Final

log = logging.getLogger(__name__)

DIR_MODE: Final = 0o700
FILE_MODE: Final = 0o600
OTHERS: Final = 0o077
"""Permission bits of the group and of other users (a CODE run's uid is one of them)."""


def private_dir(path: Path) -> None:
    """``path`` as a directory of mode 0700: created so (with missing parents, left as the
    umask makes them), or an existing one tightened (and a warning logged) when the group or
    other users can reach it. ``OSError`` when it cannot be created."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    tighten(path)


def private_file(path: Path) -> None:
    """``path`` as a file of mode 0600: created empty unless it exists, else tightened."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        if path.is_file():
            tighten(path)


def tighten(path: Path) -> None:
    """Remove the group's and other users' permissions from ``path`` if it exists and has
    any (logged once: the next start finds it tight)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if not mode & OTHERS:
        return
    try:
        os.chmod(path, mode & ~OTHERS)
    except PermissionError:  # another user's file: say so, the server still starts
        log.warning("%s can be read by other users (mode %o) and is not ours to change", path, mode)
        return
    log.warning("%s could be read by other users (mode %o): now %o", path, mode, mode & ~OTHERS)
