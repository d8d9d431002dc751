"""Time ``overhang run`` with the default workers against ``--workers 1``, at 1e5, 1e6 and 1e7 samples.

The default measures a pilot of the run in this process and starts threads of this
process only where the cost model of :func:`overhang_sim.executors.default_threads` says
they pay ("2t" in the chosen column; worker processes only when asked for) (issue 11, target 4: no default run slower than ``--workers 1``). Each case is a
whole process of the embedded baseline (kept samples, as by default), interleaved,
best of ``--repeats``; ``--workers 2`` is timed too, for what the old default cost.
The PPF tables are read from one warm disk cache. The workers the default chose is
printed from ``default_workers`` with the pilot's measurement.

Run from the repository root::

    PYTHONPATH=src python benchmarks/workers_default.py [--sizes 1e5,1e6,1e7] [--repeats 2]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def overhang() -> list[str]:
    script = Path(sys.executable).with_name("overhang")
    return [str(script)] if script.exists() else [sys.executable, "-m", "overhang_sim.cli"]


def wall(argv: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, env=env, check=True)
    return time.perf_counter() - start


def chosen_workers(samples: int) -> tuple[str, float, float]:
    """(what the default picks: "2t" for 2 threads, "1" for this process alone, "2" for 2 worker
    processes; measured s per sample; bytes per sample) for the baseline at `samples`."""
    from overhang_sim import executors
    from overhang_sim.cli import _cost
    from overhang_sim.scenarios import load_scenarios

    scenarios = load_scenarios(None)
    scenarios = dataclasses.replace(scenarios, experiments=tuple(dataclasses.replace(e, samples=samples)
                                                                for e in scenarios.experiments))
    pilot, per_byte = _cost(scenarios, None)
    per_sample = executors.seconds_per_sample(pilot, samples)
    if hasattr(executors, "default_threads"):  # the default is threads of this process where they pay
        threads = executors.default_threads(samples, per_sample)
        if threads > 1:
            return f"{threads}t", per_sample, per_byte
    return str(executors.default_workers(samples, per_sample, per_byte)), per_sample, per_byte


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e5,1e6,1e7")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="one repeat at 2e4 samples (CI's smoke step)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.sizes, args.repeats = "2e4", 1
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    cache = tempfile.mkdtemp(prefix="overhang-workers-")
    env = {**os.environ, "OVERHANG_CACHE_DIR": cache}
    os.environ["OVERHANG_CACHE_DIR"] = cache
    command = [*overhang(), "run", "--quiet"]
    subprocess.run([*command, "--samples", "1000"], stdout=subprocess.DEVNULL, env=env, check=True)  # tables
    print(f"default workers vs --workers 1, baseline (kept samples), {os.cpu_count()} cores, best of "
          f"{args.repeats}, load average {os.getloadavg()[0]:.1f}")
    print(f"  {'samples':>8}  {'chosen':>6}  {'s/sample':>9}  {'default':>8}  {'--workers 1':>11}  "
          f"{'--workers 2':>11}  default/1  2/1")
    for samples in sizes:
        workers, per_sample, per_byte = chosen_workers(samples)
        times = {"default": [], "1": [], "2": []}
        for _ in range(args.repeats):
            for name in times:
                extra = [] if name == "default" else ["--workers", name]
                times[name].append(wall([*command, "--samples", str(samples), *extra], env))
        best = {k: min(v) for k, v in times.items()}
        print(f"  {samples:8.0e}  {workers:>6}  {per_sample * 1e6:7.2f}us  {best['default']:7.2f}s  "
              f"{best['1']:10.2f}s  {best['2']:10.2f}s  {best['default'] / best['1']:9.2f}  "
              f"{best['2'] / best['1']:4.2f}   ({per_byte:.0f} B/sample sent back by workers)")
    print("target: default/1 <= 1 at every size (pilot and noise aside)")
    shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
