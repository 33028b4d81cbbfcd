"""One way to spread independent jobs over processes: an ordered map with a progress bar.

Used by the feature store (decoding and extracting tracks), the synthetic corpus (rendering clips) and
``make book``'s training of its runs (two at a time on a CPU).
Workers are forked where the platform allows it (they inherit what the parent imported and warmed up) and
started afresh otherwise. Each user passes an ``initializer`` that makes its workers ignore Ctrl-C (the
parent reports an interruption once; leaving the ``with`` block terminates the pool) and sets whatever
else they need (one thread each, warmed-up caches).
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing as mp
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator

from tqdm.auto import tqdm

__all__ = ["ordered_map", "ignore_interrupts", "die_with_parent"]


def die_with_parent(sig: int = signal.SIGKILL, parent: int | None = None) -> None:
    """Have the kernel send ``sig`` to this process when its parent dies (Linux ``PR_SET_PDEATHSIG``; a no-op
    elsewhere). For pool workers and servers started by a command: a parent killed with ``kill -9`` (or
    otherwise gone without cleaning up) takes them along instead of leaving them working, serving, or dying
    later on a broken pipe with a traceback. ``parent``: the pid the caller expects as its parent; if it is
    already gone, the signal is sent at once. Safe in a ``preexec_fn`` (no Python objects shared)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(sig), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if parent is not None and os.getppid() != parent:  # the parent died before the prctl
        os.kill(os.getpid(), sig)


def _start_worker(parent: int, initializer: Callable | None) -> None:
    die_with_parent(signal.SIGKILL, parent)
    # tqdm's bars share a multiprocessing lock, which a spawned worker would create as a named semaphore that a
    # terminated worker (Ctrl-C) never releases: the parent then ends with a resource-tracker warning. A worker
    # draws no bar of its own beside another process's, so a thread lock does.
    tqdm.set_lock(threading.RLock())
    if initializer is not None:
        initializer()


@contextlib.contextmanager
def _ctrl_c_ignored(active: bool):
    """Ignore Ctrl-C in this (main) thread while the block starts processes: a new interpreter keeps an ignored
    SIGINT, so a worker interrupted while it is still importing stays quiet instead of printing a traceback."""
    if not active or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def ignore_interrupts() -> None:
    """For worker initialisers: Ctrl-C goes to the whole process group; only the parent should report it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def ordered_map(func: Callable, jobs: Iterable, workers: int, *, initializer: Callable | None = None,
                desc: str = "", unit: str = "job", progress: bool = True, min_jobs: int = 2,
                fresh: bool = False) -> Iterator:
    """Yield ``func(job)`` for every job, in the order of ``jobs``, in a pool of ``workers`` processes.

    Parameters
    ----------
    func : callable
        A module-level function (it is pickled to the workers).
    jobs : iterable
        Its arguments, one per call.
    workers : int
        Processes; with 1, or fewer than ``min_jobs`` jobs, everything runs here in this process (the
        initializer is then not called: it is meant for workers).
    initializer : callable, optional
        Run once in each worker before its first job.
    desc, unit : str
        Progress bar label and unit.
    progress : bool
        Show the bar (tqdm hides it anyway when the output is not a terminal).
    min_jobs : int
        Fewer jobs than this are not worth starting processes for.
    fresh : bool
        Start the workers afresh (``spawn``) instead of forking them: for jobs that run PyTorch's OpenMP
        thread pool, which a process forked after its parent used it may hang in.

    Yields
    ------
    The results, in the order of ``jobs``. Leaving the generator early (an exception, Ctrl-C, ``close()``)
    terminates the pool.
    """
    jobs = list(jobs)
    bar = tqdm(total=len(jobs), desc=desc, unit=unit, disable=None if progress else True, leave=False)
    try:
        if workers <= 1 or len(jobs) < min_jobs:
            for job in jobs:
                result = func(job)
                bar.update()
                yield result
            return
        method = "fork" if "fork" in mp.get_all_start_methods() and not fresh else "spawn"
        with _ctrl_c_ignored(method == "spawn"):   # a spawned worker imports before its initializer runs
            pool = mp.get_context(method).Pool(workers, initializer=_start_worker,
                                               initargs=(os.getpid(), initializer))
        with pool:
            for result in pool.imap(func, jobs, chunksize=1):
                bar.update()
                yield result
    finally:
        bar.close()
