"""What the security tests share: which paths under a folder someone other than its owner may read."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from liftoff.devstack.postgres import server_group_id


def readable_by_others(root: Path) -> list[str]:
    """Every path under `root` (itself included) with a group or other permission bit, as
    `mode path`. The one allowance, as root only: a folder whose group is the embedded Postgres
    server's account may let that group pass through (g+x) to reach its cluster."""
    server_group = server_group_id()
    found = []
    for folder, subfolders, files in os.walk(root):
        for path in (Path(folder), *(Path(folder) / name for name in (*subfolders, *files))):
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                continue
            loose = stat.S_IMODE(info.st_mode) & 0o077
            if stat.S_ISDIR(info.st_mode) and server_group is not None and info.st_gid == server_group:
                loose &= ~0o010
            if loose:
                found.append(f"{stat.S_IMODE(info.st_mode):o} {path.relative_to(root)}")
    return found


@contextmanager
def umask(mask: int) -> Iterator[None]:
    """The process's umask set to `mask` (a user's usual 022) for the block."""
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)
