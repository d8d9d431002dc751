"""Per-sample speed of a grid of many small scenarios against one large run (issue 11, target 4).

Target: a grid of 1,000 scenarios x 1e4 samples runs at least half as fast per sample as
one 1e7-sample run (ratio = grid samples/s / single-run samples/s >= 0.5), kept and
streamed.

The grid is the baseline experiment as shipped (experiments/baseline.toml) with one
``[[axes]]``: ``required_tokens_per_s`` fixed at ``--scenarios`` evenly spaced values from
5 to 100 token/s, written as a temporary TOML file (the priors file by absolute path, as
benchmarks/batch_scaling.py does). The single run is the same file without the axis and
``--scenarios x --samples`` samples. Both go through :func:`overhang_sim.batch.run` on the
executor ``overhang run`` picks by default (``executor_for`` with the pilot of
``cli._cost``), with ``keep_samples=True`` and ``False``; grid and single run are
interleaved in this process, best of ``--repeats`` (the first, a warm-up building the PPF
tables, is not counted). Loading the scenarios is not timed. Then the whole
``overhang run FILE.toml --quiet`` process is timed once for each file and mode, since
that is what users run.

Run from the repository root::

    PYTHONPATH=src python benchmarks/grid_speed.py [--repeats 3] [--scenarios 1000] [--samples 1e4]
    PYTHONPATH=src python benchmarks/grid_speed.py --smoke
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from overhang_sim import batch
from overhang_sim.cli import _cost
from overhang_sim.config import read_toml
from overhang_sim.executors import executor_for
from overhang_sim.scenarios import load_scenarios

sys.path.insert(0, str(Path(__file__).resolve().parent))
from batch_scaling import _toml  # noqa: E402 -- the sibling benchmark's TOML writer

EXPERIMENT = Path(__file__).resolve().parents[1] / "experiments" / "baseline.toml"
AXIS = "required_tokens_per_s"
AXIS_RANGE = (5.0, 100.0)  # token/s
TARGET = 0.5  # grid samples/s over single-run samples/s


def write_file(folder: Path, samples: int, scenarios: int | None) -> Path:
    """The baseline with `samples` per scenario and `scenarios` values of AXIS (None: no axis)."""
    _, table = read_toml(EXPERIMENT)
    table = dict(table, name="grid_speed", samples=int(samples))
    table["priors"] = [str((EXPERIMENT.parent / p).resolve()) for p in table.get("priors", [])]
    if scenarios is not None:
        step = (AXIS_RANGE[1] - AXIS_RANGE[0]) / max(scenarios - 1, 1)
        table["axes"] = [{"name": AXIS, "values": [AXIS_RANGE[0] + i * step for i in range(scenarios)]}]
    path = folder / f"{'grid' if scenarios else 'single'}_{scenarios}x{samples}.toml"
    path.write_text("".join(f"{k} = {_toml(v)}\n" for k, v in table.items()), encoding="utf-8")
    return path


def run_as_cli(scenarios, keep: bool):
    """``batch.run`` on the executor ``overhang run`` picks by default (no --workers/--threads)."""
    pilot, bytes_per_sample = _cost(scenarios, keep)
    samples = sum(e.samples for e in scenarios.experiments)
    with executor_for(None, None, samples, pilot=pilot, bytes_per_sample=bytes_per_sample) as executor:
        kind = type(executor).__name__ if executor is not None else "this process"
        return batch.run(scenarios, keep_samples=keep, executor=executor), kind


def timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def process_seconds(path: Path, keep: bool) -> float:
    """Wall time of a whole ``overhang run PATH --quiet`` process (start-up, run, first screen)."""
    command = [sys.executable, "-m", "overhang_sim.cli", "run", str(path), "--quiet",
               "--keep-samples" if keep else "--no-keep-samples"]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=os.environ)
    return time.perf_counter() - start


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds (best of), after one warm-up")
    parser.add_argument("--scenarios", type=int, default=1000)
    parser.add_argument("--samples", type=float, default=1e4, help="samples per scenario of the grid")
    parser.add_argument("--no-process", action="store_true", help="skip the timing of whole `overhang run` processes")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes for CI: 20 x 1e3 against 2e4, one round")
    args = parser.parse_args(argv)
    if args.smoke:
        args.repeats, args.scenarios, args.samples = 1, 20, 1e3
    samples = int(args.samples)
    total = args.scenarios * samples
    with tempfile.TemporaryDirectory(prefix="grid_speed_") as folder:
        paths = {"grid": write_file(Path(folder), samples, args.scenarios), "single": write_file(Path(folder), total, None)}
        loaded = {name: load_scenarios(path) for name, path in paths.items()}
        print(f"baseline with axis {AXIS}: grid {args.scenarios} scenarios x {samples:.0e} samples against "
              f"one run of {total:.0e} samples; {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}")
        for keep in (True, False):
            best = {"grid": float("inf"), "single": float("inf")}
            kinds = {}
            for r in range(args.repeats + 1):
                for name in (("grid", "single") if r % 2 else ("single", "grid")):
                    seconds, (_, kinds[name]) = timed(run_as_cli, loaded[name], keep)
                    if r:
                        best[name] = min(best[name], seconds)
            ratio = best["single"] / best["grid"]  # equal sample counts: speed ratio = time ratio inverted
            label = "kept" if keep else "streamed"
            print(f"{label}: grid {best['grid']:.3f} s ({total / best['grid']:.3g} samples/s, {kinds['grid']}); "
                  f"single {best['single']:.3f} s ({total / best['single']:.3g} samples/s, {kinds['single']}); "
                  f"ratio {ratio:.2f} (target >= {TARGET:g}: {'met' if ratio >= TARGET else 'MISSED'}); "
                  f"per scenario {1e3 * best['grid'] / args.scenarios:.2f} ms")
        if not args.no_process:
            for keep in (True, False):
                seconds = {name: process_seconds(path, keep) for name, path in paths.items()}
                print(f"`overhang run` process, {'kept' if keep else 'streamed'}: grid {seconds['grid']:.2f} s, "
                      f"single {seconds['single']:.2f} s, ratio {seconds['single'] / seconds['grid']:.2f}")


if __name__ == "__main__":
    main()
