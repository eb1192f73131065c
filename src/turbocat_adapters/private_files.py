"""Files only the server's own user may read: the data directory and what is kept there."""

from __future__ import annotations

import logging
import os
import re
import stat
from pathlib import Path
from typing import Final

log = logging.getLogger(__name__)

DIR_MODE: Final = 0o700
FILE_MODE: Final = 0o600
OTHERS: Final = 0o077
"""Permission bits of the group and of other users (a CODE run's uid is one of them)."""
OWN_FILES: Final = re.compile(r"(secrets\.json|\.secrets\.json\.\d+\.tmp|turbocat\.db(-\w+)?)")
"""What Turbocat keeps in a data dir (secrets_file.py, the SQLite store and its journals)."""


def private_dir(path: Path) -> None:
    """``path`` as a directory of mode 0700: created so (missing parents are left as the
    umask makes them), or an existing one tightened (:func:`tighten_dir`). ``OSError`` when
    it cannot be created."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    tighten_dir(path)


def tighten_dir(path: Path) -> None:
    """Make an existing data dir 0700 if the group or other users can reach it, logging a
    warning; but only if it holds nothing but Turbocat's own files: a directory shared with
    anything else (``/var/lib``, ``/tmp``, a project's root) is only warned about, never
    changed (the files Turbocat keeps there are 0600 whatever the directory's mode)."""
    if not path.is_dir() or not _mode(path) & OTHERS:
        return
    strangers = [entry.name for entry in path.iterdir() if not OWN_FILES.fullmatch(entry.name)]
    if strangers:
        log.warning(
            "the data dir %s can be read by other users (mode %o) and holds more than "
            "Turbocat's files (%s): not changed; give Turbocat a directory of its own",
            path,
            _mode(path),
            ", ".join(sorted(strangers)[:3]),
        )
        return
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
    any (logged: the next start finds it tight, so once)."""
    try:
        mode = _mode(path)
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


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)
