"""The command as a process: Ctrl-C, kill -9, a full disk, workers, progress, internal errors.

These start ``python -m overhang_sim.cli`` in a subprocess and act on it as a user
or the operating system would (issue 8, items 4, 18, 21, 24, 25).
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from strategies import SWEEP, run_on

from overhang_sim import batch, load
from overhang_sim.executors import LocalPool, ThreadPool, listening
from overhang_sim.scenarios import load_scenarios

LONG = SWEEP.replace("samples = 4000", "samples = 4000000").replace("chains = 4", "chains = 8")


def _write(folder: Path, text: str, name: str = "sweep.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _command(*args) -> list[str]:
    return [sys.executable, "-m", "overhang_sim.cli", *map(str, args)]


def _wait_for(predicate, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(c) for c in task.read_text().split()]
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def _one_line(stderr: str) -> str:
    assert stderr.count("\n") == 1 and "Traceback" not in stderr, stderr
    return stderr


@pytest.mark.parametrize("flags", [("--workers", "1"), ("--workers", "2"), ("--threads", "2")])
def test_ctrl_c_is_one_line_exit_130_and_the_run_resumes(tmp_path, flags):
    """Item 4: Ctrl-C printed a traceback (from every worker too)."""
    path = _write(tmp_path, LONG)
    out = tmp_path / "out.nc"
    process = subprocess.Popen(_command("run", path, "--out", out, *flags, "--quiet"),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    partial = tmp_path / "out.nc.partial"
    _wait_for(lambda: len(list(partial.glob("*.npz"))) >= 2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert _one_line(stderr) == "overhang: interrupted; rerun the same command with --resume to continue\n"
    assert partial.is_dir() and not out.exists()


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_workers_die_with_their_parent(tmp_path, how):
    """Item 24: after kill -9 or SIGTERM of the main process both workers stayed alive."""
    path = _write(tmp_path, LONG)
    process = subprocess.Popen(_command("run", path, "--workers", "2", "--quiet"), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    _wait_for(lambda: len(_children(process.pid)) >= 2)
    time.sleep(0.5)  # let the workers start their tasks
    workers = _children(process.pid)
    process.send_signal(how)
    process.wait(timeout=30)
    _wait_for(lambda: not any(_alive(w) for w in workers), seconds=10)


def _limited(limit: int):
    def set_limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return set_limit


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_a_failed_final_write_is_one_line_and_the_checkpoint_resumes(tmp_path, suffix):
    """Items 4, 18, 25: a full disk during the final write segfaulted (exit 139) after HDF5 noise.

    A file-size limit stands in for the full disk: every task file fits under it, the
    final file does not.
    """
    path = _write(tmp_path, SWEEP.replace("samples = 4000", "samples = 200000"))
    out = tmp_path / f"out{suffix}"
    command = _command("run", path, "--out", out, "--workers", "1", "--quiet")
    failed = subprocess.run(command, capture_output=True, text=True, check=False, preexec_fn=_limited(8_000_000))
    assert failed.returncode == 2, failed.stderr
    assert _one_line(failed.stderr).startswith(f"overhang: error: {out}: cannot write: File too large")
    partial = Path(f"{out}.partial")
    assert partial.is_dir() and not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    resumed = subprocess.run([*command, "--resume"], capture_output=True, text=True, check=False)
    assert resumed.returncode == 0, resumed.stderr
    assert not partial.exists()
    whole = run_on(load_scenarios(path))
    xr.testing.assert_identical(load(out).drop_attrs(), whole.drop_attrs())


def test_a_temporary_left_by_a_killed_writer_is_removed(tmp_path, run_cli):
    """Item 25: kill -9 during the final write left a hidden .tmp that was never cleaned up."""
    path = _write(tmp_path, SWEEP)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    leftover = tmp_path / f".out.nc.{dead.stdout.strip()}.tmp"
    leftover.write_bytes(b"half a file")
    code, out, err = run_cli(["run", path, "--out", tmp_path / "out.nc", "--quiet"])
    assert code == 0, err
    assert not leftover.exists() and (tmp_path / "out.nc").exists()


def test_an_unreachable_scheduler_leaves_nothing_behind(tmp_path, run_cli):
    """Item 18: --scheduler on a closed port left closed.nc.partial/ behind."""
    path = _write(tmp_path, SWEEP)
    code, out, err = run_cli(["run", path, "--scheduler", "tcp://127.0.0.1:9", "--out", tmp_path / "closed.nc"])
    assert code == 2 and "cannot reach the dask scheduler" in _one_line(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep.toml"]


def test_a_scheduler_without_workers_is_refused_within_seconds(tmp_path, run_cli, monkeypatch):
    """Item 18: a scheduler with no workers waited silently forever."""
    distributed = pytest.importorskip("distributed")
    import overhang_sim.executors

    monkeypatch.setattr(overhang_sim.executors, "SCHEDULER_TIMEOUT_S", 1.0)
    path = _write(tmp_path, SWEEP)
    with distributed.LocalCluster(n_workers=0, host="127.0.0.1", dashboard_address=None) as cluster:
        started = time.monotonic()
        code, out, err = run_cli(["run", path, "--scheduler", cluster.scheduler_address])
        assert time.monotonic() - started < 30
    assert code == 2 and "has no workers" in _one_line(err)


def test_progress_is_reported_block_by_block(tmp_path):
    """Item 4: a 1e9-sample run sat at 0/8 for minutes: the bar advanced per chain."""
    experiment = load_scenarios(_write(tmp_path, SWEEP, "progress.toml")).base
    experiment = __import__("dataclasses").replace(experiment, samples=4 * 4 * batch.BLOCK)  # 4 blocks a chain
    for executor in (None, ThreadPool(2), LocalPool(2)):
        reports = []
        with listening(executor, lambda task, draws: reports.append((task, draws))):
            if executor is None:
                batch.chain_task(experiment, 1, 0, False, ("instances",), task="t")
            else:
                executor.submit(batch.chain_task, experiment, 1, 0, False, ("instances",), "t").result()
                time.sleep(0.5)  # the last report may still be in the queue
        if executor is not None:
            executor.shutdown()
        assert reports == [("t", batch.BLOCK)] * 4


def test_an_unexpected_exception_is_one_line_exit_1(monkeypatch, run_cli):
    """Item 21: anything but an OverhangError escaped as a traceback."""
    import overhang_sim.cli

    def broken(args):
        raise RuntimeError("something\nthe package did not expect")

    monkeypatch.setattr(overhang_sim.cli, "_priors", broken)
    code, out, err = run_cli(["priors"])
    assert code == 1
    assert _one_line(err).startswith("overhang: internal error: RuntimeError: something the package did not "
                                     "expect; please report it")
    code, out, err = run_cli(["--debug", "priors"])
    assert code == 1 and "Traceback" in err


def test_streamed_memory_does_not_grow_with_the_samples(tmp_path):
    """Item 23: each chain kept one summary part per block and merged them at the end."""
    import tracemalloc

    experiment = load_scenarios(_write(tmp_path, SWEEP)).base
    peaks = []
    for blocks in (4, 40):
        one = __import__("dataclasses").replace(experiment, samples=blocks * batch.BLOCK, chains=1)
        batch.chain_task(one, 1, 0, False, ("instances", "cluster_tokens_per_s"))  # warm the caches
        tracemalloc.start()
        batch.chain_task(one, 1, 0, False, ("instances", "cluster_tokens_per_s"))
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < 1.25 * peaks[0], peaks


def test_checkpoints_are_never_unpickled(tmp_path):
    """Item 22: with 8 or more scenarios --resume unpickled a file a user could craft."""
    import pickle

    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    text = SWEEP.replace("values = [2024, 2026]", "values = [2024, 2025, 2026]").replace(
        "p95 = 5e4}, {", 'p95 = 5e4}, {dist = "lognormal", p05 = 2e4, p95 = 1e5}, {')  # 9 scenarios
    path = _write(tmp_path, text)
    out = tmp_path / "out.nc"
    partial = Path(f"{out}.partial")
    scenarios = load_scenarios(path)
    assert len(scenarios.experiments) >= batch.SCENARIO_TASKS_MIN
    from overhang_sim.storage import Checkpoint

    one = scenarios.experiments[1]
    batch._Saved(Checkpoint(partial, batch._fingerprint(scenarios, scenarios.base.seed, True), False)).save(
        ("scenario", 1), batch.scenario_task(one, scenarios.base.seed, True, batch._summary_outputs(scenarios)))
    for name in ("s000000.pickle", "s000000.nc", "s000002.npz"):
        (partial / name).write_bytes(pickle.dumps(Payload()))
    result = run_on(scenarios, out=out, resume=True)
    assert not marker.exists()
    assert np.isfinite(result["quantile"].values).all()


def test_the_shared_memory_folder_of_a_killed_run_is_removed_by_the_next_run(tmp_path):
    """kill -9 of a run with local workers left /dev/shm/overhang-* (its kept draws) behind for good."""
    from overhang_sim.shared_folders import SHARED_MEMORY

    if not SHARED_MEMORY.is_dir():
        pytest.skip("no /dev/shm")
    long = _write(tmp_path, SWEEP.replace("samples = 4000", "samples = 400000"), "long.toml")
    process = subprocess.Popen(_command("run", long, "--workers", "2", "--keep-samples", "--quiet"),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for(lambda: list(SHARED_MEMORY.glob(f"overhang-{process.pid}-*/*.npy")))
    left = next(SHARED_MEMORY.glob(f"overhang-{process.pid}-*"))
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    # Nothing in the killed process could remove it, but under pytest-xdist a run of another test
    # may already have (every run removes the folders of dead owners), so only what the next run
    # leaves is checked: asserting the folder here was a race between workers.
    short = _write(tmp_path, SWEEP, "short.toml")
    done = subprocess.run(_command("run", short, "--workers", "2", "--keep-samples", "--quiet"),
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert not left.exists()
