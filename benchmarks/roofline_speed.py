"""Time the roofline path against the compute path, and the frontier against one model evaluation.

(a) The roofline path (experiments/roofline_gb300.toml: roofline model, five candidate
    replica sizes, the exact MoE bandwidth root) against the compute path
    (experiments/baseline.toml) at ``--samples`` plain-MC draws each: drawing every
    sampled input and evaluating the model, chunk by chunk as a run does
    (``simulation.draw_range``), without keeping the draws. Target: at most 3x.
(b) The frontier over 20 speeds as ``overhang run`` computes it: on the run's own kept draws
    (``frontier.frontier(..., inputs=frontier.run_inputs(run, ...))``, nothing sampled; the
    draws are made beforehand, as the run made them, and not timed) against one evaluation
    of the model on the same draws. Target: at most 20x (issue 10). Shown for the roofline
    and the compute path, with the frontier that draws its inputs again (``overhang
    frontier FILE``, and a run that streamed its summaries) for scale: where the model is a
    few array operations (the compute path), drawing the inputs once costs more than 20
    evaluations, which is why the run's draws are reused.

Both pairs are timed in this process, interleaved, best of ``--repeats``; the one-off costs
(reading the model files, the PERT priors' interpolation tables) are paid before timing.

Run from the repository root::

    PYTHONPATH=src python benchmarks/roofline_speed.py [--samples 1e7] [--frontier-samples 1e6] [--repeats 3]
        [--smoke]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from pathlib import Path

import numpy as np
import xarray as xr

from overhang_sim.config import load_experiment
from overhang_sim.frontier import FrontierSpec, default_speeds, frontier, frontier_spec, run_inputs
from overhang_sim.simulation import CHUNK_SIZE, chain_design, draw_inputs, draw_range, fixed_inputs

ROOT = Path(__file__).resolve().parents[1]
PATH_TARGET = 3.0  # roofline path / compute path
FRONTIER_TARGET = 20.0  # frontier over 20 speeds / one model evaluation
SPEEDS = 20


def experiments(samples: int):
    """The roofline and compute experiments at `samples` plain-MC draws."""
    roofline = load_experiment(ROOT / "experiments" / "roofline_gb300.toml")
    compute = load_experiment(ROOT / "experiments" / "baseline.toml")
    return {name: dataclasses.replace(e, samples=samples, method="mc") for name, e in
            (("roofline", roofline), ("compute", compute))}


def path_time(experiment) -> float:
    """Seconds to draw every input and evaluate the model on all draws, chunk by chunk."""
    start = time.perf_counter()
    for chain in range(experiment.chains):
        design = chain_design(experiment, experiment.seed, chain)
        for first in range(0, experiment.draws, CHUNK_SIZE):
            draw_range(experiment, design, first, min(experiment.draws, first + CHUNK_SIZE))
    return time.perf_counter() - start


def run_draws(experiment) -> xr.Dataset:
    """The sampled inputs a run keeps, ``(chain, draw)`` each, drawn chunk by chunk as a run draws them."""
    arrays = {n: np.empty((experiment.chains, experiment.draws)) for n in experiment.sampled}
    for chain in range(experiment.chains):
        design = chain_design(experiment, experiment.seed, chain)
        for first in range(0, experiment.draws, CHUNK_SIZE):
            last = min(experiment.draws, first + CHUNK_SIZE)
            values = draw_inputs(experiment, design, first, last)
            for n in experiment.sampled:
                arrays[n][chain, first:last] = values[n]
    return xr.Dataset({n: (("chain", "draw"), a) for n, a in arrays.items()}, attrs={"seed": experiment.seed})


def evaluation_time(experiment, run) -> float:
    """Seconds of one model evaluation on the run's draws, chunk by chunk as a run evaluates them."""
    fixed = fixed_inputs(experiment)
    chunks = [{**fixed, **{n: run[n].values[chain, first:first + CHUNK_SIZE] for n in experiment.sampled}}
              for chain in range(experiment.chains) for first in range(0, experiment.draws, CHUNK_SIZE)]
    start = time.perf_counter()
    for values in chunks:
        experiment.model_spec(values)
    return time.perf_counter() - start


def reuse_time(experiment, run) -> float:
    """Seconds of the frontier on the run's draws (what ``overhang run`` does)."""
    name = (frontier_spec(experiment) or FrontierSpec()).input
    start = time.perf_counter()
    front = frontier(experiment, default_speeds(SPEEDS, 1, 1000), inputs=run_inputs(run, experiment, name))
    assert front.attrs["draws"] == "run"
    return time.perf_counter() - start


def redraw_time(experiment) -> float:
    """Seconds of the frontier that draws its inputs again (``overhang frontier FILE``)."""
    start = time.perf_counter()
    frontier(experiment, default_speeds(SPEEDS, 1, 1000))
    return time.perf_counter() - start


def best(function, repeats: int, *args) -> float:
    return min(function(*args) for _ in range(repeats))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=float, default=1e7)
    parser.add_argument("--frontier-samples", type=float, default=1e6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="a tiny size, for CI (does the script still run)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.samples, args.frontier_samples, args.repeats = 1e4, 4e3, 1
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"load average {load} (1, 5, 15 min) on {os.cpu_count()} cores")
    for warm in experiments(2000).values():  # model files, PERT tables, scipy imports
        path_time(warm), redraw_time(warm), reuse_time(warm, run_draws(warm))

    paths = experiments(int(args.samples))
    times = {name: [] for name in paths}
    for _ in range(args.repeats):  # interleaved
        for name, experiment in paths.items():
            times[name].append(path_time(experiment))
    roofline, compute = min(times["roofline"]), min(times["compute"])
    ratio = roofline / compute
    print(f"(a) path at {args.samples:.0e} samples: roofline {roofline:.2f} s, compute {compute:.2f} s, "
          f"ratio {ratio:.2f} (target <= {PATH_TARGET:g}: {'met' if ratio <= PATH_TARGET else 'NOT met'})")

    small = experiments(int(args.frontier_samples))
    for name, experiment in small.items():
        run = run_draws(experiment)
        one = best(evaluation_time, args.repeats, experiment, run)
        reused = best(reuse_time, args.repeats, experiment, run)
        redrawn = best(redraw_time, args.repeats, experiment)
        ratio = reused / one
        print(f"(b) {name}: frontier over {SPEEDS} speeds on the run's draws at {args.frontier_samples:.0e} "
              "samples "
              f"{reused:.2f} s, one model evaluation {one:.3f} s, ratio {ratio:.1f} "
              f"(target <= {FRONTIER_TARGET:g}: {'met' if ratio <= FRONTIER_TARGET else 'NOT met'}); "
              f"drawing the inputs again instead (overhang frontier FILE): {redrawn:.2f} s, "
              f"{redrawn / one:.1f}x")

if __name__ == "__main__":
    main()
