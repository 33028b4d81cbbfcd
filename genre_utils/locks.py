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
    # a folder that held nothing (but perhaps the lock file of an earlier failure) is removed again when it
    # still holds nothing but the lock file afterwards: a failed command leaves no empty folder behind
    was_empty = not folder.is_dir() or not [n for n in os.listdir(folder) if n != ".lock"]
    created = [p for p in [folder, *folder.parents] if not p.exists()]  # the folders mkdir makes, deepest first
    path = folder / ".lock"
    for attempt in range(3):
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            break
        try:
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                break
        except FileNotFoundError:
            pass
        if attempt == 2:
            break
        os.close(fd)  # a lock file its holder removed (with its empty folder) as we opened it: take a new one
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held already (flock is per open file), or refused
        except BlockingIOError:
            try:  # "<pid> <what the holder does>"
                pid, _, holding = os.pread(fd, 200, 0).decode().strip().partition(" ")
                pid = int(pid or 0)
            except (OSError, ValueError):
                pid, holding = 0, ""
            raise FolderLocked(folder, pid, holding or what) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {what}\n".encode(), 0)
        _HELD[name] = 1
        try:
            yield
        finally:
            del _HELD[name]
            os.ftruncate(fd, 0)
            if was_empty:
                _remove_if_only_the_lock(folder, created[1:])
    finally:
        os.close(fd)  # closing releases the flock


def _remove_if_only_the_lock(folder: Path, parents: list[Path]) -> None:
    """Remove ``folder`` when it holds only its lock file, then those of ``parents`` (the folders created for
    it) that are left empty."""
    try:
        if os.listdir(folder) != [".lock"]:
            return
        os.unlink(folder / ".lock")  # still held: a process that opened it meanwhile is refused, not let in
        os.rmdir(folder)
        for parent in parents:
            os.rmdir(parent)
    except OSError:  # something appeared in it, or it went: leave it as it is
        pass
