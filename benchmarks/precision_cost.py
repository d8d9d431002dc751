"""What ``--precision`` and ``--method shapley`` cost against a plain run.

1. Precision: the baseline experiment (``experiments/baseline.toml``) with a small first
   round (``--samples`` in 8 chains) and ``--precision``; then a plain run with the chains
   it ended with. Model evaluations are equal by construction (finished chains are
   reused); the ratio of wall times is the overhead of the rounds' summaries.
2. Shapley: ``sensitivity(methods=["shapley"])`` with ``shapley_samples`` = the plain
   run's samples, against that plain run: its model runs (reported in the result's
   ``shapley_model_runs``) and the ratio of wall times.

Run: ``python benchmarks/precision_cost.py [--samples 4000] [--precision 0.005]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from overhang_sim import batch
from overhang_sim.precision import PrecisionTarget, run_until_precise
from overhang_sim.scenarios import load_scenarios
from overhang_sim.sensitivity_analysis import sensitivity

BASELINE = Path(__file__).resolve().parents[1] / "experiments" / "baseline.toml"


def _sized(scenarios, samples, chains):
    return dataclasses.replace(scenarios, experiments=tuple(
        dataclasses.replace(e, samples=samples, chains=chains) for e in scenarios.experiments))


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=4000, help="first round (8 chains)")
    parser.add_argument("--precision", type=float, default=0.005)
    parser.add_argument("--smoke", action="store_true", help="a loose target on a small first round (CI's smoke step)")
    args = parser.parse_args()
    if args.smoke:
        args.samples, args.precision = 800, 0.05
    scenarios = load_scenarios(BASELINE)
    first = _sized(scenarios, args.samples, 8)
    batch.run(_sized(scenarios, 800, 8))  # warm-up: PPF tables
    result, t_precise = _timed(lambda: run_until_precise(first, PrecisionTarget(args.precision)))
    chains, samples = result.attrs["precision_chains"], result.attrs["precision_samples"]
    _, t_plain = _timed(lambda: batch.run(_sized(scenarios, samples, chains)))
    print(f"precision {args.precision}: {result.attrs['precision_rounds']} rounds, {samples:,} samples in "
          f"{chains} chains; model evaluations {samples:,} = a plain run's; wall {t_precise:.2f} s against "
          f"{t_plain:.2f} s plain: ratio {t_precise / t_plain:.2f}")
    experiment = _sized(scenarios, samples, chains).base
    shap, t_shap = _timed(lambda: sensitivity(experiment, methods=["shapley"], shapley_samples=samples))
    runs = shap.attrs["shapley_model_runs"]
    print(f"shapley ({len(experiment.sampled)} inputs, {'exact' if shap.attrs['shapley_exact_permutations'] else 'random'}"
          f" permutations): {runs:,} model runs = {runs / samples:.2f} x the plain run's {samples:,}; wall "
          f"{t_shap:.2f} s: ratio {t_shap / t_plain:.2f}")


if __name__ == "__main__":
    main()
