"""The user's mistakes, as opposed to the package's bugs.

A command-line entry point (``genre-utils``, ``python -m genre_utils.build``) turns the exceptions of
:func:`user_error_types` into one line on stderr and a non-zero exit status; anything else is a bug and keeps
its traceback. Code that detects a mistake in what the user asked for (a path, a device, a checkpoint, a
run folder) raises :class:`UserError` with one line naming what was expected.
"""

from __future__ import annotations

import errno
from pathlib import Path

__all__ = ["UserError", "CheckpointError", "RunMismatchError", "user_error_types", "one_line"]


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


def user_error_types() -> tuple[type[BaseException], ...]:
    """The exceptions an entry point reports as one line: the project's own types and the environment's
    (``OSError``: missing files, permissions, a full disk)."""
    from .audio import AudioError
    from .sources import LayoutError

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
