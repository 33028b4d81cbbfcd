"""``make publish``: put the rendered book on a ``gh-pages`` branch and push it.

The HTML of ``make book`` (``<build>/html``) is committed, as the whole tree of a ``gh-pages`` branch, by
ghp-import (the tool Jupyter Book's documentation recommends for GitHub Pages), with a ``.nojekyll`` file
so that GitHub serves folders starting with ``_`` (``_static``, ``_sources``). The branch is then pushed to
the given remote. The book's widget JavaScript is vendored into the HTML (see :mod:`genre_utils.build`), so
the published pages work without a CDN.

The repository's own ``.github/workflows/book.yml`` does the same on GitHub Actions through the Pages
artifact actions, for projects that deploy from CI instead.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
from pathlib import Path

from .errors import PublishError

__all__ = ["publish", "PublishError", "main"]


@contextlib.contextmanager
def _cwd(path: Path):
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def _git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise PublishError(f"git {' '.join(args)} failed: {proc.stderr.strip().splitlines()[-1:] or ['?']}")
    return proc.stdout.strip()


def publish(html_dir, repo=None, remote: str = "origin", branch: str = "gh-pages", push: bool = True,
            message: str | None = None) -> str:
    """Commit ``html_dir`` as the tree of ``branch`` in ``repo`` and push it to ``remote``.

    Parameters
    ----------
    html_dir : path-like
        The rendered book (must hold ``index.html``).
    repo : path-like, optional
        The git repository (default: the one holding the working directory).
    remote, branch : str
        Where to push (default ``origin``, ``gh-pages``).
    push : bool
        Push after committing (False: only update the local branch).
    message : str, optional
        Commit message (default names the source commit).

    Returns
    -------
    sha : str
        The new commit of ``branch``.

    Raises
    ------
    PublishError
        No built book, not a git repository, an unknown remote, or a failed push.
    """
    try:
        import ghp_import
    except ImportError:  # pragma: no cover - part of the book extra
        raise PublishError("ghp-import is not installed; install the book extra (make book does)") from None
    html_dir = Path(html_dir).resolve()
    if not (html_dir / "index.html").is_file():
        raise PublishError(f"no built book at {html_dir} (index.html missing); run `make book` first")
    repo = Path(repo or Path.cwd()).resolve()
    top = Path(_git(repo, "rev-parse", "--show-toplevel"))
    if push and remote not in _git(top, "remote").split():
        raise PublishError(f"the repository has no remote named {remote!r}; add one (git remote add {remote} URL) "
                           "or pass --remote")
    source = _git(top, "rev-parse", "--short", "HEAD")
    message = message or f"Book built from {source}"
    with _cwd(top):
        try:
            ghp_import.ghp_import(str(html_dir), mesg=message, remote=remote, branch=branch, push=push,
                                  nojekyll=True, no_history=False)
        except ghp_import.GhpError as err:
            raise PublishError(f"publishing failed: {err.message}") from None
        except subprocess.CalledProcessError as err:
            raise PublishError(f"publishing failed: {' '.join(map(str, err.cmd))} exited {err.returncode}") from None
    return _git(top, "rev-parse", branch)


def main(argv=None) -> int:
    """``python -m genre_utils.publish``: the ``make publish`` target."""
    parser = argparse.ArgumentParser(prog="python -m genre_utils.publish", description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", default="_build", type=Path, help="the book is <build-dir>/html")
    parser.add_argument("--remote", default="origin")
    parser.add_argument("--branch", default="gh-pages")
    parser.add_argument("--no-push", action="store_true", help="only update the local branch")
    args = parser.parse_args(argv)
    try:
        sha = publish(args.build_dir / "html", remote=args.remote, branch=args.branch, push=not args.no_push)
    except PublishError as err:
        print(f"make publish: {err}", file=sys.stderr)
        return 1
    where = f"pushed to {args.remote}/{args.branch}" if not args.no_push else f"local branch {args.branch}"
    print(f"book published: {where} at {sha[:12]}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
