"""Where tasks run: this process, local worker processes, or a dask.distributed cluster.

:func:`executor_for` gives what :func:`overhang_sim.batch.run` takes as its
``executor``: None (this process), a :class:`LocalPool` or a dask executor. Local
workers ignore Ctrl-C (the main process handles it and stops them), die with their
parent however it ends (``PR_SET_PDEATHSIG`` on Linux, and a watchdog thread
elsewhere), and report their progress block by block through a queue, so a bar
advances during long chains. Tasks report progress with :func:`report_progress`,
wherever they run; it does nothing where nobody listens.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import ctypes
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator

from .errors import ConfigError

__all__ = ["PARALLEL_MIN_SAMPLES", "LocalPool", "Stopped", "executor_for", "listening", "report_progress"]

PARALLEL_MIN_SAMPLES = 10**6  # smaller runs stay in this process unless workers are asked for
SCHEDULER_TIMEOUT_S = 10.0  # how long to wait for a dask cluster to have a worker
STOP_TIMEOUT_S = 10.0  # how long interrupted workers may take to stop before they are killed

_sink: Callable[[object, int], None] | None = None  # where this process's tasks send progress
_stop = None  # in a worker: the event the main process sets to stop its tasks


class Stopped(Exception):
    """Raised inside a worker's task when the main process has asked its workers to stop."""


def report_progress(task: object, draws: int) -> None:
    """Tell whoever listens that `task` has evaluated `draws` more draws.

    Raises
    ------
    Stopped
        In a worker whose run was interrupted.
    """
    if _stop is not None and _stop.is_set():
        raise Stopped("the run was interrupted")
    if _sink is not None:
        _sink(task, draws)


@contextlib.contextmanager
def listening(executor, callback: Callable[[object, int], None]) -> Iterator[None]:
    """Route the progress of tasks run by `executor` to ``callback(task, draws)`` meanwhile.

    In this process (``executor is None``) the callback is called directly; a
    :class:`LocalPool` forwards its workers' reports; other executors report nothing.
    """
    global _sink
    if isinstance(executor, LocalPool):
        with executor.listening(callback):
            yield
        return
    previous, _sink = _sink, (callback if executor is None else _sink)
    try:
        yield
    finally:
        _sink = previous


# --------------------------------------------------------------------------- local workers


def _die_with_parent(parent: int) -> None:
    """End this process when `parent` ends (kill -9 and SIGTERM included)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG (Linux)

    def watch():
        while True:
            if os.getppid() != parent:
                os._exit(1)
            time.sleep(1.0)

    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=watch, name="overhang-parent-watch", daemon=True).start()


def _start_worker(queue, stop, parent: int) -> None:
    global _sink, _stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the main process to handle
    _die_with_parent(parent)
    _sink, _stop = (lambda task, draws: queue.put((task, draws))), stop


class LocalPool:
    """Worker processes on this machine (a :class:`concurrent.futures.ProcessPoolExecutor`).

    Parameters
    ----------
    workers : int
        Number of processes.
    """

    def __init__(self, workers: int):
        context = multiprocessing.get_context()
        self._queue = context.SimpleQueue()
        self._stop = context.Event()
        self._pool = cf.ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                                            initargs=(self._queue, self._stop, os.getpid()))

    def submit(self, fn, /, *args, **kwargs) -> cf.Future:
        return self._pool.submit(fn, *args, **kwargs)

    @contextlib.contextmanager
    def listening(self, callback: Callable[[object, int], None]) -> Iterator[None]:
        """Call ``callback(task, draws)`` for every progress report of the workers meanwhile."""
        def drain():
            while (message := self._queue.get()) is not None:
                callback(*message)

        thread = threading.Thread(target=drain, name="overhang-progress", daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._queue.put(None)
            thread.join(timeout=5)

    def shutdown(self, interrupted: bool = False) -> None:
        """Stop the workers; when `interrupted`, tasks stop after their current block of draws."""
        if not interrupted:
            self._pool.shutdown(wait=True)
            return
        self._stop.set()
        processes = list(getattr(self._pool, "_processes", {}).values())  # no public way before 3.14
        self._pool.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for process in processes:
            process.join(timeout=max(deadline - time.monotonic(), 0))
        for process in processes:
            if process.is_alive():  # stuck outside any block: it cannot be asked, only killed
                with contextlib.suppress(OSError, AttributeError):
                    process.kill()


def _dask_executor(address: str):
    try:
        from distributed import Client
    except ImportError:
        raise ConfigError('--scheduler needs dask.distributed: pip install ".[dask]"', key="scheduler") from None
    try:
        client = Client(address, timeout="5s", set_as_default=False)
    except (OSError, TimeoutError) as error:
        raise ConfigError(f"cannot reach the dask scheduler at {address!r}: {' '.join(str(error).split())}",
                          key="scheduler") from None
    try:
        client.wait_for_workers(1, timeout=SCHEDULER_TIMEOUT_S)
    except (OSError, TimeoutError):
        client.close()
        raise ConfigError(f"the dask scheduler at {address!r} has no workers (waited {SCHEDULER_TIMEOUT_S:g} s); "
                          "start some with `dask worker ADDRESS`", key="scheduler") from None
    return client


@contextlib.contextmanager
def executor_for(workers: int | None = None, scheduler: str | None = None,
                 samples: int = 0) -> Iterator[object]:
    """The executor for a run: None (this process), a :class:`LocalPool`, or a dask cluster's.

    Parameters
    ----------
    workers : int, optional
        Local worker processes. Default: this process alone for runs of fewer than
        :data:`PARALLEL_MIN_SAMPLES` samples, else one per core.
    scheduler : str, optional
        Address of a dask.distributed scheduler (``tcp://host:8786``); the tasks run there.
    samples : int
        Total samples of the run, for the default.

    Raises
    ------
    ConfigError
        Bad `workers`, or a scheduler that cannot be reached or has no workers.
    """
    if scheduler:
        client = _dask_executor(scheduler)
        try:
            yield client.get_executor(pure=False)
        finally:
            client.close()
        return
    if workers is None:
        workers = 1 if samples < PARALLEL_MIN_SAMPLES else os.cpu_count() or 1
    if workers < 1:
        raise ConfigError(f"must be at least 1, not {workers}", key="workers")
    if workers == 1:
        yield None
        return
    pool = LocalPool(workers)
    interrupted = True
    try:
        yield pool
        interrupted = False
    finally:
        pool.shutdown(interrupted)
