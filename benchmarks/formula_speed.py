"""Time formula models against the Python path and against hand-written numpy.

1. The compute model file (``overhang_sim/data/models/compute.toml``) against the Python
   path the package had before (``tests/reference_models.py``, ``compute_path``) at 1e7 samples: every
   input of the baseline that is sampled there is an array here, the two FLOP-per-token
   constants are defaults, and both models are called through their ``__call__``, so
   each returns every output it can (serial_speedup and tasks_per_day included).
   Target: at most 1.1x.
2. A chain of 30 quantities (5 inputs, 25 formulas, each using four earlier ones) against
   the same expressions written directly in numpy: the cost of a formula model is a few
   Python calls per array operation, none per draw.

Both pairs are timed in this process, interleaved, best of ``--repeats``. Last, the one-off
cost of reading and checking the five model files (paid once per process).

Run from the repository root::

    PYTHONPATH=src python benchmarks/formula_speed.py [--samples 1e7] [--repeats 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from overhang_sim.modelspec import FormulaModel, builtin_models

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from reference_models import MODELS as REFERENCE

COMPUTE_TARGET = 1.1  # formula compute model / Python compute path
CHAIN_LENGTH = 30


def compute_inputs(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Arrays for the compute path's sampled inputs, on the baseline's ranges."""
    lognormal = {"cluster_gpus": 2e5, "gpu_peak_flop_per_s": 2e15, "train_days": 110.0,
                 "chinchilla_ratio": 70.0, "horizon_length": 10.0, "required_tokens_per_s": 30.0,
                 "fast_stream_tokens_per_s": 300.0, "tokens_per_task": 5e6}
    values = {name: median * rng.lognormal(0.0, 0.5, n) for name, median in lognormal.items()}
    values["train_utilization"] = rng.uniform(0.2, 0.6, n)
    values["inference_utilization"] = rng.uniform(0.04, 0.5, n)
    return values


def _name(i: int) -> str:
    return f"x{i}" if i < 5 else f"q{i}"


def chain_formulas(length: int = CHAIN_LENGTH) -> dict[str, str]:
    """Formulas of quantities q5 .. q{length-1}, each from four earlier quantities."""
    return {f"q{i}": f"sqrt({_name(i - 1)} * {_name(i - 2)}) + {_name(i - 3)} / (1 + {_name(i - 5)})"
            for i in range(5, length)}


def chain_model(length: int = CHAIN_LENGTH) -> FormulaModel:
    units = {_name(i): "1" for i in range(length)}
    return FormulaModel.from_formulas("chain", units=units, formulas=chain_formulas(length),
                                      main=_name(length - 1))


def chain_numpy(v: dict[str, np.ndarray], length: int = CHAIN_LENGTH) -> dict[str, np.ndarray]:
    """The chain written directly in numpy, as a user would."""
    q = dict(v)
    for i in range(5, length):
        q[f"q{i}"] = np.sqrt(q[_name(i - 1)] * q[_name(i - 2)]) + q[_name(i - 3)] / (1 + q[_name(i - 5)])
    return {k: q[k] for k in q if k.startswith("q")}


def best_times(functions, repeats: int) -> list[float]:
    """Best wall time of each function, running them interleaved `repeats` times."""
    best = [float("inf")] * len(functions)
    for _ in range(repeats):
        for i, function in enumerate(functions):
            start = time.perf_counter()
            function()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=float, default=1e7)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="a tiny size, for CI (does the script still run)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.samples, args.repeats = 1e4, 1
    n = int(args.samples)
    rng = np.random.default_rng(20261123)

    start = time.perf_counter()
    formula = builtin_models()["compute"]
    load = time.perf_counter() - start
    python = REFERENCE["compute"]
    values = compute_inputs(n, rng)
    same = all(np.allclose(formula(values)[k], python(values)[k], rtol=1e-12) for k in formula(values))
    t_python, t_formula = best_times([lambda: python(values), lambda: formula(values)], args.repeats)
    ratio = t_formula / t_python
    print(f"compute path, {n:.0e} samples: Python {t_python:.3f} s, model file {t_formula:.3f} s, "
          f"ratio {ratio:.3f} (target <= {COMPUTE_TARGET}; same results: {same})")

    chain = chain_model()
    inputs = {f"x{i}": rng.uniform(0.5, 2.0, n) for i in range(5)}
    t_numpy, t_chain = best_times([lambda: chain_numpy(inputs), lambda: chain(inputs)], args.repeats)
    print(f"{CHAIN_LENGTH}-quantity chain, {n:.0e} samples: numpy {t_numpy:.3f} s, formulas {t_chain:.3f} s, "
          f"ratio {t_chain / t_numpy:.3f}")
    print(f"reading and checking the five model files: {load * 1e3:.1f} ms (once per process)")


if __name__ == "__main__":
    main()
