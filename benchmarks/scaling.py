"""Cost per sample from 1e5 to 1e9 samples: samples/s and peak memory per decade, kept and streamed.

The baseline experiment (compute path, rank correlation, its own ``[summary]``) is
run by ``batch.run`` as ``overhang run`` does, at each power of ten up to ``--max``:
streamed (``keep_samples=False``: sketches, memory flat in the sample count) at
every size, kept (every draw in memory, exact summaries) while the samples and the
summary's scratch fit in half this machine's memory. Each run is in a fresh
spawned process, timed after a small warm-up run there (imports, PPF tables); the
peak is that process's tracemalloc peak during the run (numpy reports its buffers).

Target: streamed samples/s at the largest size within 20 % of that at 1e6
(ratio >= 0.8); streamed peak memory flat.

Run from the repository root::

    PYTHONPATH=src python benchmarks/scaling.py [--max 1e9] [--workers 1] [--smoke]

Without ``--workers`` each run takes the executor ``overhang run`` would choose (threads
of the process where a timed pilot says they pay); ``--workers 1`` keeps it to one thread.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import multiprocessing
import os
import time
import tracemalloc
from pathlib import Path

EXPERIMENT = Path(__file__).resolve().parents[1] / "experiments" / "baseline.toml"
RATE_TARGET = 0.8  # streamed samples/s at the largest size / at 1e6


def _scenarios(samples: int):
    from overhang_sim.scenarios import load_scenarios

    scenarios = load_scenarios(EXPERIMENT)
    return dataclasses.replace(scenarios, experiments=tuple(dataclasses.replace(e, samples=samples)
                                                            for e in scenarios.experiments))


def fits(samples: int) -> bool:
    """The kept samples and the summary's scratch take at most half this machine's memory."""
    from overhang_sim.simulation import _physical_memory, result_bytes, summary_bytes

    experiment = _scenarios(samples).base
    return result_bytes(experiment) + summary_bytes(experiment) <= _physical_memory() / 2


def one_run(samples: int, keep: bool, workers: int | None) -> tuple[float, int]:
    """Seconds and tracemalloc peak (bytes) of one run (meant for a fresh child process)."""
    from overhang_sim import batch
    from overhang_sim.executors import executor_for

    batch.run(_scenarios(8000), keep_samples=keep)  # imports, PPF tables: not timed
    scenarios = _scenarios(samples)
    experiment = scenarios.base
    pilot = None if workers is not None else (lambda n: _pilot(experiment, n))
    with executor_for(workers, None, samples, pilot=pilot) as executor:
        tracemalloc.start()
        start = time.perf_counter()
        result = batch.run(scenarios, keep_samples=keep, executor=executor)
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    del result
    return seconds, peak


def _pilot(experiment, n: int) -> int:
    """What ``overhang run`` times to choose its default executor (cli._cost)."""
    from overhang_sim.simulation import chain_design, draw_range

    n = min(n, experiment.draws)
    draw_range(experiment, chain_design(experiment, experiment.seed, 0), 0, n)
    return n


def in_child(samples: int, keep: bool, workers: int | None) -> tuple[float, int]:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(one_run, (samples, keep, workers))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min", type=float, default=1e5, help="smallest sample count")
    parser.add_argument("--max", type=float, default=1e9, help="largest sample count (a power of ten)")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes (1: this process, one thread); default: as overhang run")
    parser.add_argument("--smoke", action="store_true", help="for CI: --min 1e4 --max 1e5")
    args = parser.parse_args(argv)
    if args.smoke:
        args.min, args.max = 1e4, 1e5
    sizes = [10**e for e in range(round(math.log10(args.min)), round(math.log10(args.max)) + 1)]
    print(f"baseline experiment, batch.run with {args.workers or 'the default'} worker(s); {os.cpu_count()} cores; "
          f"sizes {sizes[0]:.0e} ... {sizes[-1]:.0e}")
    rates = {}
    for samples in sizes:
        for keep in (True, False):
            if keep and not fits(samples):
                print(f"  {samples:.0e} kept: skipped (does not fit in half this machine's memory)")
                continue
            seconds, peak = in_child(samples, keep, args.workers)
            rate = samples / seconds
            if not keep:
                rates[samples] = rate
            print(f"  {samples:.0e} {'kept    ' if keep else 'streamed'}: {seconds:8.2f} s, "
                  f"{rate / 1e6:6.2f} M samples/s, peak {peak / 1e6:9.1f} MB "
                  f"({peak / samples:6.1f} bytes/sample)", flush=True)
    reference = rates.get(10**6) or rates[min(rates)]
    largest = max(rates)
    ratio = rates[largest] / reference
    print(f"streamed samples/s at {largest:.0e} / at {10**6 if 10**6 in rates else min(rates):.0e}: {ratio:.2f} "
          f"(target >= {RATE_TARGET:g}: {'met' if ratio >= RATE_TARGET else 'MISSED'})")


if __name__ == "__main__":
    main()
