"""Every exception the package defines: the user's mistakes, as opposed to the package's bugs.

A command-line entry point (``genre-utils``, ``python -m genre_utils.build``) turns the exceptions of
:func:`user_error_types` into one line on stderr and a non-zero exit status; anything else is a bug and keeps
its traceback. Code that detects a mistake in what the user asked for (a path, a device, a checkpoint, a
run folder) raises :class:`UserError` with one line naming what was expected.

The exceptions live here, at the foundation of the package, so that any module can raise or catch any of
them without importing the module that detects the problem (:mod:`genre_utils.floors`). The modules that
raise them also export them under their old names (``genre_utils.audio.AudioError`` and so on).
"""

from __future__ import annotations

import errno
from pathlib import Path

__all__ = ["UserError", "BuildError", "CheckpointError", "RunMismatchError", "AudioError", "LayoutError",
           "DiskFullError", "FolderLocked", "PublishError", "ExploreError", "user_error_types", "one_line"]


class UserError(ValueError):
    """A mistake in the user's input or setup; ``str(err)`` is one line naming what was expected.

    A ValueError, so code that caught the package's earlier ValueErrors keeps working.
    """


class BuildError(RuntimeError):
    """A step of ``make book`` failed (not the user's mistake); the message names the notebook and the cell.

    Defined here, not in :mod:`genre_utils.build`: ``python -m genre_utils.build`` runs that module as
    ``__main__``, and an exception class defined there would be a second class that ``except`` does not match.
    """


class CheckpointError(UserError):
    """A file that is not a usable genre_utils checkpoint (unreadable, truncated, unsafe, another model)."""


class RunMismatchError(UserError):
    """A run folder and what it is used with (a store, a configuration) do not belong together."""


class AudioError(ValueError):
    """A file that cannot serve as audio input; ``str(err)`` is the reason to record."""


class LayoutError(ValueError):
    """A dataset root that does not exist or is not laid out as any accepted layout."""


class DiskFullError(OSError):
    """No space left on the device (or quota exceeded) while writing ``filename``."""

    def __str__(self) -> str:  # one line, naming the file
        return f"no space left on the device while writing {self.filename}; free some space and run again"


class FolderLocked(UserError):
    """Another process holds the lock of ``folder`` (two builds of one folder at once: the user's to sort out)."""

    def __init__(self, folder, pid, what: str = "build"):
        self.folder, self.pid, self.what = Path(folder), pid, what
        holder = f"process {pid}" if pid else "another process"
        article = "an" if what[:1].lower() in "aeiou" else "a"
        super().__init__(f"{folder} is in use: {holder} is running {article} {what} there; wait for it to finish "
                         "(or use another folder)")

    def __reduce__(self):  # rebuilt from its own arguments: a training worker's lock error reaches the parent whole
        return type(self), (self.folder, self.pid, self.what)


class PublishError(RuntimeError):
    """Publishing cannot start or failed; the message is one line for the user."""


class ExploreError(Exception):
    """A problem the user can fix; reported as one line."""


def user_error_types() -> tuple[type[BaseException], ...]:
    """The exceptions an entry point reports as one line: the project's own types and the environment's
    (``OSError``: missing files, permissions, a full disk)."""
    return (UserError, LayoutError, AudioError, OSError)


def _is_temporary(path: Path) -> bool:
    return path.name.startswith(".") and path.name.endswith(".part")


def one_line(err: BaseException) -> str:
    """The message of a user-facing error on one line; an ``OSError`` names its file (or, for the temporary
    file of an atomic write, the folder it was written into)."""
    if isinstance(err, OSError) and not isinstance(err, UserError) and err.filename is not None \
            and type(err).__str__ is OSError.__str__:
        path = Path(str(err.filename))
        reason = err.strerror or str(err)
        if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS) and (_is_temporary(path) or path.is_dir()):
            folder = path.parent if _is_temporary(path) else path
            text = f"cannot write into the folder {folder} ({reason}); choose a folder you can write to"
        else:
            text = f"{path}: {reason}"
    else:
        text = str(err) or type(err).__name__
    return " ".join(text.split())
