"""Where tasks run: this process (serially or on threads), local worker processes, or a dask.distributed cluster.

:func:`executor_for` gives what :func:`overhang_sim.batch.run` takes as its
``executor``: None (this process), a :class:`ThreadPool` (threads of this process: numpy's
random fills and ufuncs release the GIL, and each chain writes its own rows of the final
arrays, so nothing is copied or sent), a :class:`LocalPool` or a dask executor. Local
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

__all__ = ["PARALLEL_MIN_SAMPLES", "LocalPool", "Stopped", "ThreadPool", "default_threads", "default_workers",
           "executor_for", "in_process", "listening", "report_progress", "seconds_per_sample"]

PARALLEL_MIN_SAMPLES = 10**6  # smaller runs stay in this process unless workers are asked for
# The cost model of :func:`default_workers` (measured on a 2-core machine; see benchmarks/workers_default.py):
WORKER_START_S = 0.3  # starting the pool and a worker's first task (imports, tables), per run
TRANSFER_BYTES_PER_S = 1e8  # results sent back from a worker: pickled, piped, unpickled (80 MB/s measured)
THREAD_START_S = 0.005  # starting a thread pool and handing out its tasks, per run (no imports, no transfer)
WORKERS_MUST_SAVE = 0.8  # workers are chosen only if they are predicted to take at most this share of the time
PILOT_DRAWS = (2**12, 2**16)  # the pilot's warm-up, and the most samples it times
PILOT_SHARE = 64  # the pilot times 1/64 of the run's samples, twice
SCHEDULER_TIMEOUT_S = 10.0  # how long to wait for a dask cluster to have a worker
STOP_TIMEOUT_S = 10.0  # how long interrupted workers may take to stop before they are killed

_sink: Callable[[object, int], None] | None = None  # where this process's tasks send progress
_stop = None  # in a worker: the event the main process sets to stop its tasks
_local = threading.local()  # in a ThreadPool's thread: .stop, the event that stops its tasks


class Stopped(Exception):
    """Raised inside a worker's task when the main process has asked its workers to stop."""


def report_progress(task: object, draws: int) -> None:
    """Tell whoever listens that `task` has evaluated `draws` more draws.

    Raises
    ------
    Stopped
        In a worker whose run was interrupted.
    """
    stop = getattr(_local, "stop", None) or _stop
    if stop is not None and stop.is_set():
        raise Stopped("the run was interrupted")
    if _sink is not None:
        _sink(task, draws)


@contextlib.contextmanager
def listening(executor, callback: Callable[[object, int], None]) -> Iterator[None]:
    """Route the progress of tasks run by `executor` to ``callback(task, draws)`` meanwhile.

    In this process (``executor`` None or a :class:`ThreadPool`) the callback is called
    directly (from the thread that runs the task); a :class:`LocalPool` forwards its
    workers' reports; other executors report nothing.
    """
    global _sink
    if isinstance(executor, LocalPool):
        with executor.listening(callback):
            yield
        return
    previous, _sink = _sink, (callback if in_process(executor) else _sink)
    try:
        yield
    finally:
        _sink = previous


def in_process(executor) -> bool:
    """Whether tasks given to `executor` run in this process (None or a :class:`ThreadPool`): they can
    write straight into this process's arrays."""
    return executor is None or isinstance(executor, ThreadPool)


# --------------------------------------------------------------------------- threads


class ThreadPool:
    """Threads of this process (a :class:`concurrent.futures.ThreadPoolExecutor`).

    Tasks share this process's memory, PPF tables and caches; they run in parallel where
    numpy releases the GIL (random fills, ufuncs, sorts on large arrays). A chain's draws
    depend only on its own generator, so the result does not depend on the scheduling.

    Parameters
    ----------
    threads : int
        Number of threads.
    """

    def __init__(self, threads: int):
        self.threads = threads
        self._stop = threading.Event()
        self._pool = cf.ThreadPoolExecutor(threads, thread_name_prefix="overhang-task",
                                           initializer=self._start_thread)

    def _start_thread(self) -> None:
        _local.stop = self._stop

    def submit(self, fn, /, *args, **kwargs) -> cf.Future:
        return self._pool.submit(fn, *args, **kwargs)

    def shutdown(self, interrupted: bool = False) -> None:
        """Wait for the tasks; when `interrupted`, running tasks stop after their current block of draws."""
        if interrupted:
            self._stop.set()
        self._pool.shutdown(wait=True, cancel_futures=interrupted)


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


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may use (a container's, a taskset's)
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def seconds_per_sample(pilot: Callable[[int], int], samples: int) -> float:
    """The cost of a sample of a run of `samples` in this process, measured by `pilot`.

    ``pilot(n)`` evaluates up to `n` samples and returns how many. After a warm-up (tables
    read, caches filled) it is timed twice on ``samples / PILOT_SHARE`` samples (within
    :data:`PILOT_DRAWS`) and the faster time is kept. 0.0 if the pilot fails: the run then
    raises the error itself, in this process.
    """
    import warnings

    n = min(max(samples // PILOT_SHARE, PILOT_DRAWS[0]), PILOT_DRAWS[1])
    best = float("inf")
    try:
        with warnings.catch_warnings():  # the run itself says what is wrong, once
            warnings.simplefilter("ignore")
            pilot(PILOT_DRAWS[0])
            for _ in range(2):
                start = time.perf_counter()
                done = pilot(n)
                best = min(best, (time.perf_counter() - start) / max(done, 1))
    except Exception:  # noqa: BLE001 -- a failing pilot decides nothing
        return 0.0
    return best


def default_workers(samples: int, seconds_per_sample: float | None = None, bytes_per_sample: float = 0.0,
                    cores: int | None = None) -> int:
    """How many processes a run should use by default: more than one only where they pay.

    With ``c`` seconds per sample (measured by :func:`seconds_per_sample`), ``w`` workers
    are predicted to take ``samples * c / w + WORKER_START_S + samples * bytes_per_sample /
    TRANSFER_BYTES_PER_S`` against ``samples * c`` in this process; the most workers (up to
    the usable cores) predicted to take at most :data:`WORKERS_MUST_SAVE` of that are chosen,
    else 1.

    Parameters
    ----------
    samples : int
        Total samples of the run.
    seconds_per_sample : float, optional
        The measured cost of one sample in this process. Unknown (None): every usable core
        from :data:`PARALLEL_MIN_SAMPLES` samples on.
    bytes_per_sample : float
        Bytes of results a worker sends back per sample (the kept draws; ~0 when streamed).
    cores : int, optional
        Usable cores (default: this process's CPU affinity).

    Returns
    -------
    int
        1 (this process) or a number of worker processes.
    """
    return _paying(samples, seconds_per_sample, cores,
                   lambda: WORKER_START_S + samples * bytes_per_sample / TRANSFER_BYTES_PER_S)


def default_threads(samples: int, seconds_per_sample: float | None = None, cores: int | None = None) -> int:
    """How many threads a run should use by default: more than one only where they pay.

    The rule of :func:`default_workers` with a start cost of :data:`THREAD_START_S` and
    nothing sent back (threads write the draws where they end up). It assumes the work
    releases the GIL, as numpy's does on large blocks.

    Returns
    -------
    int
        1 (this thread) or a number of threads.
    """
    return _paying(samples, seconds_per_sample, cores, lambda: THREAD_START_S)


def _paying(samples: int, seconds_per_sample: float | None, cores: int | None, overhead) -> int:
    """The most workers (2 .. cores) whose predicted time, ``alone / w + overhead()``, is at most
    :data:`WORKERS_MUST_SAVE` of the time alone; 1 if none pays, every core if the cost is unknown."""
    cores = _cores() if cores is None else cores
    if cores < 2 or samples < PARALLEL_MIN_SAMPLES:
        return 1
    if seconds_per_sample is None:
        return cores
    alone = samples * seconds_per_sample
    paying = [w for w in range(2, cores + 1) if alone / w + overhead() <= WORKERS_MUST_SAVE * alone]
    return max(paying, default=1)


@contextlib.contextmanager
def executor_for(workers: int | None = None, scheduler: str | None = None,
                 samples: int = 0, *, pilot: Callable[[int], int] | None = None,
                 bytes_per_sample: float = 0.0, threads: int | None = None) -> Iterator[object]:
    """The executor for a run: None (this process), a :class:`ThreadPool`, a :class:`LocalPool`, or a dask cluster's.

    Parameters
    ----------
    workers : int, optional
        Local worker processes (1: this process, one task at a time). Default: threads of
        this process (:func:`default_threads`), from the cost of a sample measured by
        `pilot`, where they are predicted to pay; else this process alone.
    scheduler : str, optional
        Address of a dask.distributed scheduler (``tcp://host:8786``); the tasks run there.
    samples : int
        Total samples of the run, for the default.
    pilot : callable, optional
        ``pilot(n) -> int``: evaluates up to `n` samples in this process, for the default.
    bytes_per_sample : float
        Bytes of results worker processes would send back per sample (threads send nothing).
    threads : int, optional
        Threads of this process instead of worker processes (1: this process alone).

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
    if threads is not None and threads < 1:
        raise ConfigError(f"must be at least 1, not {threads}", key="threads")
    if workers is None and threads is None:
        measured = seconds_per_sample(pilot, samples) if pilot is not None and samples >= PARALLEL_MIN_SAMPLES else None
        threads = default_threads(samples, measured)
    if workers is not None and workers < 1:
        raise ConfigError(f"must be at least 1, not {workers}", key="workers")
    if (workers or 1) == 1 and (threads or 1) == 1:
        yield None
        return
    pool = LocalPool(workers) if workers is not None and workers > 1 else ThreadPool(threads)
    interrupted = True
    try:
        yield pool
        interrupted = False
    finally:
        pool.shutdown(interrupted)
