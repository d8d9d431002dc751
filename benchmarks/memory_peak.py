"""Peak memory of a kept ``overhang run`` against the size of its samples.

The whole CLI run is polled in /proc (its own resident set, and the run's memory
counted once: the anonymous memory of the process and its workers plus the shared
memory local workers write the kept draws into; the start-up, a run of 1,000 samples,
is shown and taken off as well), once in this process alone (``--workers 1``) and
once with the default workers; the API
(``batch.run`` as the CLI calls it) by tracemalloc in a spawned child. The target:
peak / samples' bytes <= 1.3 (the samples are every sampled input and output,
float64, :func:`overhang_sim.simulation.result_bytes`).

Run from the repository root::

    PYTHONPATH=src python benchmarks/memory_peak.py [--samples 1e7] [--smoke]
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

EXPERIMENT = Path(__file__).resolve().parents[1] / "experiments" / "baseline.toml"
TARGET = 1.3  # peak memory / samples' bytes


def samples_bytes(samples: int) -> int:
    import overhang_sim as oh
    from overhang_sim.simulation import result_bytes

    return result_bytes(dataclasses.replace(oh.load_experiment(EXPERIMENT), samples=samples))


def _status(pid: int) -> dict[str, int]:
    """VmRSS, RssAnon, RssShmem of a process in bytes (Linux), empty if it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            fields = dict(line.split(":", 1) for line in f if line.startswith(("VmRSS", "RssAnon", "RssShmem")))
        return {k: int(v.split()[0]) * 1024 for k, v in fields.items()}
    except (OSError, ValueError):
        return {}


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def _shared_files_bytes(since: float) -> int:
    """Bytes allocated to /dev/shm/overhang-* folders made since `since` (local workers' kept draws)."""
    total = 0
    for folder in Path("/dev/shm").glob("overhang-*"):
        try:
            if folder.stat().st_mtime >= since - 1:
                total += sum(f.stat().st_blocks * 512 for f in folder.iterdir())
        except OSError:
            pass
    return total


def cli_peak(samples: int, workers: str | None) -> tuple[int, int]:
    """Peaks of ``overhang run``, polled every 50 ms: (its own RSS, the memory of the whole run).

    The whole run is the anonymous memory of the process and its workers plus the shared
    memory of the kept draws (the /dev/shm files local workers write into, or the pages of
    them this process holds, whichever is larger): each byte counted once.
    """
    command = [sys.executable, "-m", "overhang_sim.cli", "run", str(EXPERIMENT), "--samples", str(samples),
               "--quiet", "--keep-samples"]
    if workers:
        command += ["--workers", workers]
    start = time.time()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=os.environ)
    own = whole = 0
    while process.poll() is None:
        main = _status(process.pid)
        anon = main.get("RssAnon", 0) + sum(_status(c).get("RssAnon", 0) for c in _children(process.pid))
        shared = max(main.get("RssShmem", 0), _shared_files_bytes(start))
        own, whole = max(own, main.get("VmRSS", 0)), max(whole, anon + shared)
        time.sleep(0.05)
    if process.returncode != 0:
        raise RuntimeError(process.stderr.read()[-2000:])
    return own, whole


def api_peak(samples: int) -> int:
    """tracemalloc peak of ``batch.run`` (in-process, kept) as the CLI calls it (for a spawned child)."""
    import overhang_sim as oh
    from overhang_sim import batch
    from overhang_sim.scenarios import load_scenarios

    scenarios = load_scenarios(EXPERIMENT)
    small = dataclasses.replace(scenarios, experiments=tuple(dataclasses.replace(e, samples=8000)
                                                             for e in scenarios.experiments))
    batch.run(small, keep_samples=True)  # imports, PPF tables: not part of the peak
    scenarios = dataclasses.replace(scenarios, experiments=tuple(dataclasses.replace(e, samples=samples)
                                                                 for e in scenarios.experiments))
    tracemalloc.start()
    result = batch.run(scenarios, keep_samples=True)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del result, oh
    return peak


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=float, default=1e7)
    parser.add_argument("--smoke", action="store_true", help="a tiny size, for CI")
    args = parser.parse_args(argv)
    samples = 10**5 if args.smoke else int(args.samples)
    need = samples_bytes(samples)
    print(f"baseline experiment, {samples:.0e} samples kept: samples take {need / 1e9:.3f} GB")
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        traced = pool.apply(api_peak, (samples,))
    print(f"  API (batch.run in this process), tracemalloc peak {traced / 1e9:.3f} GB: ratio {traced / need:.2f} "
          f"(target <= {TARGET:g}: {'met' if traced / need <= TARGET else 'MISSED'})")
    _, base = cli_peak(1000, "1")
    print(f"  CLI start-up and a 1,000-sample run: {base / 1e9:.3f} GB")
    for workers in ("1", None):
        own, whole = cli_peak(samples, workers)
        label = f"--workers {workers}" if workers else "default workers"
        ratio = whole / need
        print(f"  CLI {label}: peak RSS {own / 1e9:.3f} GB; whole run (workers, shared memory) {whole / 1e9:.3f} GB: "
              f"ratio {ratio:.2f}, {(whole - base) / need:.2f} without start-up "
              f"(target <= {TARGET:g}: {'met' if ratio <= TARGET else 'MISSED'})")


if __name__ == "__main__":
    main()
