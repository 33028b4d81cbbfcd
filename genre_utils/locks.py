"""One writer per folder: an advisory ``fcntl.flock`` on ``<folder>/.lock``, taken at once or refused.

``make data`` / ``make book`` hold the lock of the build folder for their whole run, and
:func:`genre_utils.store.build_dataset` holds the lock of its store folder, so two processes never write the
same artefact at once. The second one stops at once with one line naming the folder and the holder's pid.
The lock is released by the operating system when its holder exits, however it exits (even ``kill -9``), so
a stale lock file never blocks a later build.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from .errors import FolderLocked

__all__ = ["FolderLocked", "folder_lock"]

_HELD: dict[str, int] = {}  # folders this process holds, with their nesting depth (re-entrant)


@contextmanager
def folder_lock(folder, what: str = "build"):
    """Hold ``<folder>/.lock`` (exclusive, non-blocking) for the ``with`` block.

    Parameters
    ----------
    folder : path-like
        Created if missing.
    what : str
        What the holder does, for the message of :class:`FolderLocked`.

    Raises
    ------
    FolderLocked
        Another process holds it; the message names the folder and the holder's pid.
    """
    import fcntl

    folder = Path(folder).resolve()
    name = str(folder)
    if name in _HELD:  # already ours (a build that builds a store): re-entrant
        _HELD[name] += 1
        try:
            yield
        finally:
            _HELD[name] -= 1
        return
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ".lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                pid = int(os.pread(fd, 32, 0).decode().strip() or 0)
            except (OSError, ValueError):
                pid = 0
            raise FolderLocked(folder, pid, what) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        _HELD[name] = 1
        try:
            yield
        finally:
            del _HELD[name]
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # closing releases the flock
