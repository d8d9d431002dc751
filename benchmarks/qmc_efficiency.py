"""Samples Sobol' and Latin hypercube need to match plain Monte Carlo's error at 1e6.

The error is the Monte Carlo standard error of the 5 % and 95 % quantiles of
log10(instances), as :func:`overhang_sim.summarize` reports it (``quantile_mcse``
on the ``log10`` scale: the spread between independent chains / scrambles). The
baseline experiment is run as shipped (priors, rank correlation, compute path)
with `CHAINS` chains; only samples, method and seed change.

The reference is plain MC at 1e6 samples. Each chain count gives an error with
``chains - 1`` degrees of freedom, so every point is repeated with independent
seeds and the squared errors averaged. Each method is then run at powers of two
per chain until its error falls below the reference; a power law
``error = c * samples**-a`` fitted through the points around the crossing gives the
samples that match, and the efficiency is ``1e6 / those samples``. Plain MC is
run through the same search as a control: its efficiency should come out near 1.

Run from the repository root::

    PYTHONPATH=src python benchmarks/qmc_efficiency.py
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from pathlib import Path

import numpy as np

import overhang_sim as oh
from overhang_sim.config import SummarySpec
from overhang_sim.designs import stable_key

EXPERIMENT = Path(__file__).resolve().parents[1] / "experiments" / "baseline.toml"
REFERENCE_SAMPLES = 10**6
CHAINS = 32
PROBS = (0.05, 0.95)
SPEC = SummarySpec(outputs=("instances",), quantiles=PROBS, intervals=(), thresholds=(1e6,))
REFERENCE_REPLICATES = 16
SAMPLES_PER_POINT = 2**23  # samples spent on each point of a search, spread over replicates
MIN_REPLICATES, MAX_REPLICATES = 8, 64
FIRST_EXPONENT = 12  # 2**12 draws per chain = 131,072 samples: where the search starts
ROOT_SEED = 20261123


def experiment(samples: int, method: str) -> oh.Experiment:
    """The baseline experiment with `samples` over `CHAINS` chains by `method`."""
    base = oh.load_experiment(EXPERIMENT)
    return dataclasses.replace(base, samples=samples, chains=CHAINS, method=method)


def seeds(method: str, samples: int, replicates: int) -> list[int]:
    """Independent run seeds for one point, spawned from stable keys."""
    sequence = np.random.SeedSequence(ROOT_SEED, spawn_key=(stable_key(method), samples))
    return [int(s) for s in sequence.generate_state(replicates, dtype=np.uint64) >> np.uint64(1)]


def quantile_error(samples: int, method: str, replicates: int) -> np.ndarray:
    """Root-mean-square ``quantile_mcse`` of log10(instances) at `PROBS` over `replicates` seeds."""
    spec = experiment(samples, method)
    squares = []
    for seed in seeds(method, samples, replicates):
        summary = oh.summarize(oh.simulate(spec, seed=seed), SPEC)
        squares.append(summary["quantile_mcse"].sel(output="instances", scale="log10").values ** 2)
    return np.sqrt(np.mean(squares, axis=0))


def replicates_for(samples: int) -> int:
    """Replicates at one point: about `SAMPLES_PER_POINT` samples in all, within bounds."""
    return int(np.clip(SAMPLES_PER_POINT // samples, MIN_REPLICATES, MAX_REPLICATES))


def relative_se(replicates: int) -> float:
    """Relative standard error of an RMS between-chain error (chi-square approximation)."""
    return 1.0 / math.sqrt(2 * replicates * (CHAINS - 1))


def search(method: str, target: np.ndarray) -> dict[int, tuple[np.ndarray, int]]:
    """Errors at powers of two per chain, on both sides of `target` for every quantile.

    Returns a mapping samples -> (error per quantile, replicates).
    """
    points: dict[int, tuple[np.ndarray, int]] = {}

    def at(exponent):
        samples = CHAINS * 2**exponent
        if samples not in points:
            replicates = replicates_for(samples)
            points[samples] = (quantile_error(samples, method, replicates), replicates)
        return points[samples][0]

    low = high = FIRST_EXPONENT
    while np.any(at(high) > target):  # grow until every quantile is below target
        high += 1
    while np.any(at(low) <= target) and low > 4:  # shrink until every quantile is above target
        low -= 1
    at(high + 1)  # one more point past the crossing steadies the local fit
    return dict(sorted(points.items()))


def crossing(points: dict[int, tuple[np.ndarray, int]], target: float, q: int):
    """Samples where the error of quantile `q` meets `target`, by a local power-law fit.

    Fits ``log error = log c - a log samples`` (least squares) through the last point
    above the target, the first below it and one neighbour on each side.

    Returns (samples, a, relative standard error of samples from the fit's points).
    """
    n = np.array(list(points))
    err = np.array([e[q] for e, _ in points.values()])
    reps = np.array([r for _, r in points.values()])
    first_below = int(np.argmax(err <= target))
    window = slice(max(first_below - 2, 0), min(first_below + 2, len(n)))
    x, y = np.log(n[window]), np.log(err[window])
    slope, intercept = np.polyfit(x, y, 1)
    a = -slope
    samples = math.exp((intercept - math.log(target)) / a)
    point_se = np.mean([relative_se(r) for r in reps[window]]) / math.sqrt(len(x) / 2)
    return samples, a, point_se


def smoke() -> None:
    """Tiny sizes, for CI: the script still runs end to end (the figures mean nothing)."""
    global REFERENCE_SAMPLES, CHAINS, REFERENCE_REPLICATES, SAMPLES_PER_POINT, MIN_REPLICATES, MAX_REPLICATES
    global FIRST_EXPONENT
    CHAINS, FIRST_EXPONENT = 4, 6
    REFERENCE_SAMPLES, REFERENCE_REPLICATES = CHAINS * 2**8, 2
    SAMPLES_PER_POINT, MIN_REPLICATES, MAX_REPLICATES = 2**10, 2, 2


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a tiny size, for CI (does the script still run)")
    if parser.parse_args(argv).smoke:
        smoke()
    start = time.perf_counter()
    reference = quantile_error(REFERENCE_SAMPLES, "mc", REFERENCE_REPLICATES)
    reference_se = relative_se(REFERENCE_REPLICATES)
    print(f"baseline experiment, {CHAINS} chains; error = MC standard error of the quantile of "
          f"log10(instances), RMS over independent seeds")
    print(f"reference plain MC at {REFERENCE_SAMPLES:.0e} samples ({REFERENCE_REPLICATES} seeds): "
          + "; ".join(f"p{100 * p:g} error {e:.5f}" for p, e in zip(PROBS, reference))
          + f" (each +- {100 * reference_se:.0f} %)")
    for method in ("mc", "sobol", "lhs"):
        points = search(method, reference)
        table = ", ".join(f"{n}: " + "/".join(f"{v:.5f}" for v in e) for n, (e, _) in points.items())
        print(f"{method}: errors (p5/p95) by samples: {table}")
        for q, p in enumerate(PROBS):
            samples, a, point_se = crossing(points, reference[q], q)
            spread = math.hypot(reference_se, point_se) / a  # relative error of the samples
            label = "control, expect about 1" if method == "mc" else "efficiency"
            print(f"  {method} p{100 * p:g}: {samples:,.0f} samples match MC at {REFERENCE_SAMPLES:.0e} "
                  f"(error ~ n^-{a:.2f}); sample ratio {REFERENCE_SAMPLES / samples:.2f} "
                  f"+- {100 * spread:.0f} % ({label})")
    print(f"total time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
