"""Time overhang-sim's Sobol' indices against SALib's ``sobol.sample`` + ``sobol.analyze``.

The model: the compute path on the 8 sampled inputs of ``priors/baseline.toml`` that it
uses (cluster size, peak FLOP/s per GPU, both utilizations (PERT), training days,
tokens per parameter, horizon length (log-uniform), required speed), independent
(the baseline's rank correlation is left out: Sobol' indices need independent
inputs); the output is log10(instances). Both sides draw scrambled Sobol' points,
map them through the same inverse CDFs and run the same vectorised model ``N (d + 2)``
times, for first-order and total indices only (SALib with ``calc_second_order=False``;
its default would double the model runs and add second-order work).

Timed, best of ``--repeats``, interleaved, at each base sample size ``N``:

* SALib: ``sobol.sample`` + the inverse CDFs + the model + ``sobol.analyze`` with its
  default bootstrap (100 resamples, 95 % normal-approximation intervals);
* overhang-sim: :func:`overhang_sim.sensitivity_analysis.sobol_indices_from_function` with its
  default 8 independently scrambled replicates of ``N / 8`` base samples each (95 % t
  intervals from the spread between them).

Agreement is checked twice: the two independent designs' indices must agree within
their combined intervals (``|ours - SALib| <= sqrt(h_ours**2 + h_SALib**2)`` with
``h`` the interval half-widths; SALib's row bootstrap makes its own ``h`` wide), and on
SALib's own model outputs the two estimators must agree to rounding.

Needs SALib (``pip install SALib``), a benchmark dependency only; without it the
benchmark says so and stops. Run from the repository root::

    PYTHONPATH=src python benchmarks/sensitivity_vs_salib.py [--repeats 2] [--sizes 14 17]
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from pathlib import Path

import numpy as np

import overhang_sim as oh
from overhang_sim.sensitivity_analysis import sobol_indices, sobol_indices_from_function

try:
    from SALib.analyze import sobol as salib_analyze
    from SALib.sample import sobol as salib_sample
except ImportError:  # main() says it is missing and stops
    salib_analyze = salib_sample = None

PRIORS = Path(__file__).resolve().parents[1] / "priors" / "baseline.toml"
INPUTS = ("cluster_gpus", "gpu_peak_flop_per_s", "train_utilization", "inference_utilization", "train_days",
          "chinchilla_ratio", "horizon_length", "required_tokens_per_s")
SPEED_TARGET = 10.0  # SALib time / ours


def model_and_ppfs():
    """log10(instances) of the compute path as a function of an (n, 8) array, and the inverse CDFs."""
    priors = oh.load_priors(PRIORS)
    compute = oh.MODELS["compute"]

    def log10_instances(x: np.ndarray) -> np.ndarray:
        return np.log10(compute({name: x[:, j] for j, name in enumerate(INPUTS)})["instances"])

    return log10_instances, [priors[name].dist.ppf for name in INPUTS]


def salib(f, ppfs, n: int, seed: int) -> tuple[dict, np.ndarray]:
    """SALib's route: sample, map, run, analyse. Returns its result and the model outputs."""
    problem = {"num_vars": len(ppfs), "names": list(INPUTS), "bounds": [[0.0, 1.0]] * len(ppfs)}
    u = salib_sample.sample(problem, n, calc_second_order=False, seed=seed)
    y = f(np.column_stack([ppf(u[:, j]) for j, ppf in enumerate(ppfs)]))
    return salib_analyze.analyze(problem, y, calc_second_order=False, seed=seed + 1), y


def ours_on_salib_outputs(y: np.ndarray, d: int):
    """Our estimators on SALib's outputs (its rows interleave A, AB_1 .. AB_d, B).

    Only the estimates are compared: SALib's rows are one scrambled sequence, not
    independent replicates, so the intervals computed here would not hold.
    """
    step = d + 2
    return sobol_indices(y[0::step], y[step - 1 :: step], np.stack([y[j + 1 :: step] for j in range(d)]))


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def compare(n: int, repeats: int, f, ppfs) -> None:
    d = len(ppfs)
    ours_t, salib_t = [], []
    for r in range(repeats):  # interleaved, so load on the machine hits both alike
        t, ours = timed(sobol_indices_from_function, f, ppfs, n, seed=r)
        ours_t.append(t)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SALib's FutureWarnings from pandas
            t, (theirs, y) = timed(salib, f, ppfs, n, seed=100 + r)
        salib_t.append(t)
    model_t, _ = timed(f, np.column_stack([ppf(np.full(n * (d + 2), 0.5)) for ppf in ppfs]))
    ratio = min(salib_t) / min(ours_t)
    print(f"N = 2^{int(math.log2(n))} = {n:,} base samples, {n * (d + 2):,} model runs (model alone "
          f"{model_t:.3f} s)")
    print(f"  SALib sample + analyze: {min(salib_t):.2f} s; overhang-sim: {min(ours_t):.3f} s; "
          f"ratio {ratio:.1f}x (target >= {SPEED_TARGET:g}x: {'met' if ratio >= SPEED_TARGET else 'MISSED'})")
    print(f"  all rounds: SALib {', '.join(f'{t:.2f}' for t in salib_t)} s; "
          f"overhang-sim {', '.join(f'{t:.3f}' for t in ours_t)} s")
    worst_diff = worst_ratio = 0.0
    for kind, salib_key in (("first", "S1"), ("total", "ST")):
        estimate = getattr(ours, kind)
        low, high = getattr(ours, f"{kind}_interval")
        diff = np.abs(estimate - theirs[salib_key])
        tolerance = np.hypot((high - low) / 2, theirs[f"{salib_key}_conf"])
        worst_diff, worst_ratio = max(worst_diff, diff.max()), max(worst_ratio, (diff / tolerance).max())
        print(f"  {kind:<5}  ours  " + " ".join(f"{v:7.4f}" for v in estimate))
        print(f"  {'':<5}  SALib " + " ".join(f"{v:7.4f}" for v in theirs[salib_key]))
    print(f"  largest |ours - SALib| over both index sets: {worst_diff:.4f}; largest difference / "
          f"combined interval half-width: {worst_ratio:.2f} ({'agree' if worst_ratio <= 1 else 'DISAGREE'} "
          f"within the intervals)")
    same = ours_on_salib_outputs(y, d)
    same_diff = max(np.abs(same.first - theirs["S1"]).max(), np.abs(same.total - theirs["ST"]).max())
    print(f"  same outputs through both estimators: largest difference {same_diff:.1e}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--sizes", type=int, nargs="+", default=[14, 17], help="log2 of the base samples")
    parser.add_argument("--smoke", action="store_true", help="a tiny size, for CI (does the script still run)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.repeats, args.sizes = 1, [8]
    if salib_sample is None:
        print("SALib is not installed (pip install SALib): nothing to compare against, benchmark skipped")
        return
    f, ppfs = model_and_ppfs()
    sobol_indices_from_function(f, ppfs, 2**10, seed=0)  # imports and PPF tables: not timed
    print(f"model: log10(instances) of the compute path, {len(INPUTS)} independent inputs: "
          f"{', '.join(INPUTS)}")
    start = time.perf_counter()
    for size in args.sizes:
        compare(2**size, args.repeats, f, ppfs)
    print(f"total benchmark time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
