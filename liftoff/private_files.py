"""Files only their owner may read: every secret or password the project generates goes through here.

Why one helper: a secret written the naive way (`touch`, then `write_text`) exists empty for a
moment, and a crash in between leaves it empty for good; the next reader then signs or logs in
with an empty key. Here a secret is written to a 0600 temporary file in the same folder and only
then linked (first time) or renamed (replacing) into place: a reader sees no file or the whole
secret, never part of one. The folders it creates are 0700.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

# What every process of the local stack runs with: new files 0600, new folders 0700.
PRIVATE_UMASK = 0o077


def private_folder(path: Path) -> Path:
    """Create `path` (and missing parents) 0700 whatever the process's umask; an existing folder
    is left as it is (making an existing state folder private is the stack's job, on prepare)."""
    missing = [folder for folder in (path, *path.parents) if not folder.exists()]
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it meanwhile
            folder.mkdir(mode=0o700)
            folder.chmod(0o700)
    return path


def _temporary_copy(path: Path, text: str) -> Path:
    """`text` in a new 0600 file next to `path`, flushed to disk."""
    private_folder(path.parent)
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as out:  # mkstemp makes it 0600
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` (mode 0600) atomically, replacing what was there."""
    temporary = _temporary_copy(path, text)
    try:
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def generated_secret(path: Path, generate: Callable[[], str]) -> str:
    """The secret in `path`, generated (and written 0600) the first time.

    Two processes generating at once agree: the first to link its file into place wins and the
    other reads the winner's. An empty file (what a crash left behind before this helper existed)
    is no secret: it is replaced.
    """
    try:
        current: str | None = path.read_text().strip()
    except FileNotFoundError:
        current = None
    if current:
        return current
    if current is not None:
        log.warning("%s is empty (an interrupted write): generating a new secret", path)
    temporary = _temporary_copy(path, generate())
    try:
        if current is None:
            # Another process may get there first: theirs is the secret then.
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        elif not path.read_text().strip():  # still empty: nobody replaced it meanwhile
            os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path.read_text().strip()
