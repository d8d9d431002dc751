"""Refit the throughput curve's knee and slope to the MLPerf table and print the prior it implies.

The table ships inside the package (``overhang_sim/data/calibration/mlperf.csv``); add a
row when a new MLPerf round is published (per-GPU figure = system total / GPU count,
``per_user_tokens_per_s`` empty for offline) and run this again. gamma (the knee's
sharpness) is fixed, sigma is the assumed error of one log throughput; see
:mod:`overhang_sim.calibration`. Not a timing: it lives here with the other scripts
that print numbers for the docs.

Run from the repository root::

    PYTHONPATH=src python benchmarks/fit_throughput_curve.py [--sigma 0.1] [--sharpness 2] [--table FILE]
"""

from __future__ import annotations

import argparse
import math

from overhang_sim.calibration import fit_throughput_curve, load_mlperf


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sigma", type=float, default=0.1, help="assumed error of one log throughput")
    parser.add_argument("--sharpness", type=float, default=2.0, help="gamma, fixed")
    parser.add_argument("--table", default=None, help="a CSV with the columns of the shipped table")
    parser.add_argument("--smoke", action="store_true", help="for CI: the script is small already")
    args = parser.parse_args(argv)
    fit = fit_throughput_curve(load_mlperf(args.table), sigma=args.sigma, sharpness=args.sharpness)
    predicted, error = fit.predict()
    print(f"knee  = {fit.knee:.3g} tok/s (x/ {math.exp(fit.log_error('log_knee_tokens_per_s')):.3f})")
    print(f"beta  = {fit.slope:.3g} (x/ {math.exp(fit.log_error('log_throughput_slope')):.3f})")
    print(f"gamma = {fit.sharpness:g} (fixed), sigma = {fit.sigma:g}\n")
    print(f"{'round':6} {'model':34} {'system':10} {'scenario':12} {'tok/s/user':>10} {'measured':>9} "
          f"{'fitted':>9} {'log err':>7}")
    for row, p, e in zip(fit.table.itertuples(), predicted, error, strict=True):
        print(f"{row.round:6} {row.model:34} {row.system:10} {row.scenario:12} {row.per_user_tokens_per_s:10.3g} "
              f"{row.tokens_per_gpu_s:9.0f} {p:9.0f} {e:7.3f}")
    print("\n# The prior this implies (priors/*.toml):\n")
    print(fit.prior_toml())


if __name__ == "__main__":
    main()
