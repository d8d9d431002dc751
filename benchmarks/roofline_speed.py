"""Time the roofline path against the compute path, and the frontier against one model evaluation.

(a) The roofline path (experiments/roofline_gb300.toml: roofline model, five candidate
    replica sizes, the exact MoE bandwidth root) against the compute path
    (experiments/baseline.toml) at ``--samples`` plain-MC draws each: drawing every
    sampled input and evaluating the model, chunk by chunk as a run does
    (``simulation.draw_range``), without keeping the draws. Target: at most 3x.
(b) The frontier over 20 speeds (``frontier.frontier``: the inputs drawn once, the
    speed-independent quantities computed once, the rest once per speed, then the
    quantiles) against one evaluation of the model on the same number of drawn inputs.
    Target: at most 20x. Shown for the roofline and the compute path, with the frontier
    against one whole run of the path (draws + model) for scale: where the model is a few
    array operations (the compute path), drawing the inputs once already costs more than
    20 evaluations, and only the ratio to a run says that nothing is drawn 20 times; the
    last figure, (frontier - one run) / one evaluation, is what the 20 speeds add (their
    evaluations and summaries) against the 20x budget.

Both pairs are timed in this process, interleaved, best of ``--repeats``; the one-off costs
(reading the model files, the PERT priors' interpolation tables) are paid before timing.

Run from the repository root::

    PYTHONPATH=src python benchmarks/roofline_speed.py [--samples 1e7] [--frontier-samples 1e6] [--repeats 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from overhang_sim.config import load_experiment
from overhang_sim.frontier import default_speeds, frontier
from overhang_sim.simulation import CHUNK_SIZE, chain_design, draw_inputs, draw_range

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


def evaluation_time(experiment) -> float:
    """Seconds of one model evaluation on the experiment's draws (drawn beforehand, not timed)."""
    chunks = []
    for chain in range(experiment.chains):
        design = chain_design(experiment, experiment.seed, chain)
        chunks += [draw_inputs(experiment, design, s, min(experiment.draws, s + CHUNK_SIZE))
                   for s in range(0, experiment.draws, CHUNK_SIZE)]
    start = time.perf_counter()
    for values in chunks:
        experiment.model_spec(values)
    return time.perf_counter() - start


def frontier_time(experiment) -> float:
    start = time.perf_counter()
    frontier(experiment, default_speeds(SPEEDS, 1, 1000))
    return time.perf_counter() - start


def best(function, experiment, repeats: int) -> float:
    return min(function(experiment) for _ in range(repeats))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=float, default=1e7)
    parser.add_argument("--frontier-samples", type=float, default=1e6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="a tiny size, for CI (does the script still run)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.samples, args.frontier_samples, args.repeats = 1e4, 4e3, 1
    for warm in experiments(2000).values():  # model files, PERT tables, scipy imports
        path_time(warm), frontier_time(warm)

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
        one = best(evaluation_time, experiment, args.repeats)
        whole = best(frontier_time, experiment, args.repeats)
        run = best(path_time, experiment, args.repeats)
        ratio = whole / one
        print(f"(b) {name}: frontier over {SPEEDS} speeds at {args.frontier_samples:.0e} samples {whole:.2f} s, "
              f"one model evaluation {one:.3f} s, ratio {ratio:.1f} "
              f"(target <= {FRONTIER_TARGET:g}: {'met' if ratio <= FRONTIER_TARGET else 'NOT met'}); "
              f"against one run of the path (draws + model, {run:.2f} s): {whole / run:.1f}x; "
              f"the per-speed part (frontier - one run) against one evaluation: {(whole - run) / one:.1f}")


if __name__ == "__main__":
    main()
