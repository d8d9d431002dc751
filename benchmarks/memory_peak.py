"""Peak memory of a kept ``overhang run`` against the size of its samples.

The whole CLI process is measured by ``/usr/bin/time -v`` (maximum resident set
size; its start-up, a run of 1,000 samples, is shown and taken off as well), once
in this process alone (``--workers 1``) and once with the default workers; the API
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
import re
import shutil
import subprocess
import sys
import tracemalloc
from pathlib import Path

EXPERIMENT = Path(__file__).resolve().parents[1] / "experiments" / "baseline.toml"
TARGET = 1.3  # peak memory / samples' bytes


def samples_bytes(samples: int) -> int:
    import overhang_sim as oh
    from overhang_sim.simulation import result_bytes

    return result_bytes(dataclasses.replace(oh.load_experiment(EXPERIMENT), samples=samples))


def cli_peak(samples: int, workers: str | None) -> int | None:
    """Maximum RSS (bytes) of ``overhang run`` (this process and its workers' largest), or None."""
    if not Path("/usr/bin/time").exists():
        return None
    command = ["/usr/bin/time", "-v", sys.executable, "-m", "overhang_sim.cli", "run", str(EXPERIMENT),
               "--samples", str(samples), "--quiet", "--keep-samples"]
    if workers:
        command += ["--workers", workers]
    done = subprocess.run(command, capture_output=True, text=True, env=os.environ)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1)) * 1024


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
    if shutil.which("/usr/bin/time") is None:
        print("  /usr/bin/time not found: the CLI's peak RSS is not measured")
        return
    base = cli_peak(1000, "1")
    print(f"  CLI start-up and a 1,000-sample run: peak RSS {base / 1e9:.3f} GB")
    for workers in ("1", None):
        peak = cli_peak(samples, workers)
        label = f"--workers {workers}" if workers else "default workers"
        ratio, net = peak / need, (peak - base) / need
        print(f"  CLI {label}: peak RSS {peak / 1e9:.3f} GB: ratio {ratio:.2f}, {net:.2f} without start-up "
              f"(target <= {TARGET:g}: {'met' if ratio <= TARGET else 'MISSED'})")


if __name__ == "__main__":
    main()
