"""Shared builders and hypothesis strategies for the overhang-sim tests.

Experiments are written as small TOML files whose priors are inline ``[overrides.NAME]``
tables; :func:`experiment_toml` builds that text from plain dicts, so a test states
only what it is about. Units are filled in from ``overhang_sim.models.QUANTITIES``
unless a test gives one (e.g. to check that a wrong unit is rejected).
"""

from __future__ import annotations

import functools
import json
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
from hypothesis import strategies as st
from scipy import stats

from overhang_sim.models import QUANTITIES
from overhang_sim.units import Unit

REPO = Path(__file__).resolve().parents[1]
EXPERIMENTS = REPO / "experiments"
PRIORS = REPO / "priors"

# --------------------------------------------------------------------------- priors as dicts


def fixed(value, **extra):
    return {"value": value, **extra}


def lognormal(p05, p95, **extra):
    return {"dist": "lognormal", "p05": p05, "p95": p95, **extra}


def uniform(low, high, **extra):
    return {"dist": "uniform", "low": low, "high": high, **extra}


def normal(mean, sd, **extra):
    return {"dist": "normal", "mean": mean, "sd": sd, **extra}


# All three inputs of the throughput path are lognormal: instances is lognormal too.
THROUGHPUT_PRIORS = {
    "cluster_gpus": lognormal(1e4, 1e5),
    "tokens_per_gpu_s": lognormal(500.0, 5000.0),
    "required_tokens_per_s": lognormal(10.0, 100.0),
}

# The compute path with every scale input lognormal and the utilizations fixed:
# instances is again lognormal (see test_summaries.compute_log_moments).
COMPUTE_PRIORS = {
    "cluster_gpus": lognormal(2e4, 2e5),
    "gpu_peak_flop_per_s": lognormal(1e15, 4e15),
    "train_utilization": fixed(0.4),
    "inference_utilization": fixed(0.3),
    "train_days": lognormal(60.0, 200.0),
    "chinchilla_ratio": lognormal(20.0, 250.0),
    "horizon_length": lognormal(1.0, 10.0),
    "required_tokens_per_s": lognormal(5.0, 50.0),
}

# --------------------------------------------------------------------------- TOML text


def toml_value(value) -> str:
    """A TOML literal for `value` (numbers, strings, lists, inline tables; nan/inf too)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")


def prior_table(header: str, name: str, entry: dict) -> str:
    entry = dict(entry)
    if name in QUANTITIES:
        entry.setdefault("unit", QUANTITIES[name].unit)
    entry.setdefault("source", "test fixture (2025)")
    lines = [f"[{header}]"] + [f"{k} = {toml_value(v)}" for k, v in entry.items()]
    return "\n".join(lines)


def experiment_toml(
    priors: dict[str, dict],
    *,
    model: str = "throughput",
    name: str = "test",
    samples: int | None = 64,
    chains: int | None = 4,
    method: str | None = "mc",
    seed: int | None = 1,
    correlations: list[dict] | None = None,
    summary: dict | None = None,
    prior_files: list[str] | None = None,
    extra: dict | None = None,
) -> str:
    """Text of an experiment file with inline ``[overrides.NAME]`` priors."""
    top = {"name": name, "model": model}
    if prior_files is not None:
        top["priors"] = prior_files
    for key, value in (("samples", samples), ("chains", chains), ("method", method), ("seed", seed)):
        if value is not None:
            top[key] = value
    top.update(extra or {})
    parts = ["\n".join(f"{k} = {toml_value(v)}" for k, v in top.items())]
    for c in correlations or []:
        parts.append("[[correlations]]\n" + "\n".join(f"{k} = {toml_value(v)}" for k, v in c.items()))
    if summary is not None:
        parts.append("[summary]\n" + "\n".join(f"{k} = {toml_value(v)}" for k, v in summary.items()))
    parts += [prior_table(f"overrides.{n}", n, e) for n, e in priors.items()]
    return "\n\n".join(parts) + "\n"


# --------------------------------------------------------------------------- closed forms


def lognormal_log_moments(p05: float, p95: float) -> tuple[float, float]:
    """(mu, sigma) of the natural log of a lognormal given by its 5 % and 95 % quantiles."""
    z95 = stats.norm.ppf(0.95)
    return 0.5 * (math.log(p05) + math.log(p95)), (math.log(p95) - math.log(p05)) / (2 * z95)


# --------------------------------------------------------------------------- strategies

seeds = st.integers(min_value=0, max_value=2**32 - 1)
methods = st.sampled_from(["mc", "lhs", "sobol"])

# Factors > 1 large enough that a power 1/2 of them is far above rounding.
factors = st.floats(min_value=1.01, max_value=100.0, allow_nan=False)


@st.composite
def lognormal_params(draw):
    p05 = 10.0 ** draw(st.floats(min_value=-6.0, max_value=12.0))
    ratio = 10.0 ** draw(st.floats(min_value=1e-3, max_value=6.0))
    return p05, p05 * ratio


@st.composite
def interval_params(draw, positive_low=False):
    low = draw(st.floats(min_value=1e-3 if positive_low else -1e6, max_value=1e6))
    width = 10.0 ** draw(st.floats(min_value=-3.0, max_value=6.0))
    return low, low + width


@st.composite
def beta_params(draw):
    alpha = 10.0 ** draw(st.floats(min_value=-0.7, max_value=1.3))
    beta = 10.0 ** draw(st.floats(min_value=-0.7, max_value=1.3))
    low, high = draw(interval_params())
    return alpha, beta, low, high


@st.composite
def pert_params(draw):
    low, high = draw(interval_params())
    t = draw(st.floats(min_value=0.0, max_value=1.0))
    lam = draw(st.floats(min_value=0.5, max_value=20.0))
    return low, low + t * (high - low), high, lam


@st.composite
def compute_inputs(draw, n=8):
    """Arrays for every input of the compute path, on physically sensible ranges."""
    def arr(lo, hi, log=True):
        raw = draw(st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=n, max_size=n))
        t = np.asarray(raw)
        return 10.0 ** (lo + (hi - lo) * t) if log else lo + (hi - lo) * t

    return {
        "cluster_gpus": arr(3, 7),
        "gpu_peak_flop_per_s": arr(13, 16),
        "train_utilization": arr(0.05, 1.0, log=False),
        "inference_utilization": arr(0.01, 1.0, log=False),
        "train_days": arr(0, 3),
        "chinchilla_ratio": arr(0, 3.5),
        "horizon_length": arr(0, 3),
        "required_tokens_per_s": arr(0, 3),
        "train_flop_per_param_token": arr(0.5, 1.0),
        "infer_flop_per_param_token": arr(0.2, 0.5),
    }


def unit_grid(n: int = 100_001) -> np.ndarray:
    """Uniforms on [0, 1) with dense tails: a uniform grid plus 1e-15 .. 1e-3 on each side."""
    tails = np.logspace(-15, -3, 200)
    grid = np.concatenate([np.linspace(0.0, 1.0, n, endpoint=False), tails, 1.0 - tails])
    return np.unique(grid[(grid >= 0) & (grid < 1)])


# A 3 x 2 scenario grid on the baseline priors (throughput path): a fixed-value axis and a
# prior-setting axis. Shared by the batch and plotting tests.
SWEEP = f"""
name = "sweep"
model = "throughput"
priors = ["{Path(__file__).resolve().parents[1] / 'priors' / 'baseline.toml'}"]
samples = 4000
chains = 4
seed = 11

[[axes]]
name = "required_tokens_per_s"
values = [10, 30, 50]

[[axes]]
name = "year"
values = [2024, 2026]
set.cluster_gpus = [{{dist = "lognormal", p05 = 1e4, p95 = 5e4}}, {{dist = "lognormal", p05 = 5e4, p95 = 3e5}}]
"""


def run_on(scenarios, workers=1, scheduler=None, **options):
    """``batch.run`` on `workers` local processes (1: this process) or a dask `scheduler`."""
    from overhang_sim import batch
    from overhang_sim.executors import executor_for

    with executor_for(workers, scheduler) as executor:
        return batch.run(scenarios, executor=executor, **options)


TIMES = ("started", "finished", "saved")


def without_times(ds):
    """`ds` without the attrs that say when it was made (all else is reproducible to the bit)."""
    ds = ds.copy()
    ds.attrs = {k: v for k, v in ds.attrs.items() if k not in TIMES}
    return ds

# --------------------------------------------------------------------------- units and formulas

UNIT_NAMES = ("FLOP", "PFLOP", "token", "parameter", "GPU", "USD", "bit", "byte", "data point", "task",
              "s", "h", "day", "year", "instance")
EXPONENTS = tuple(Fraction(p) for p in ("-2", "-1", "-1/2", "1/2", "1", "2", "3"))


@st.composite
def units(draw, max_terms=3):
    """A :class:`Unit`: up to `max_terms` distinct named units, each with an exponent of EXPONENTS."""
    names = draw(st.lists(st.sampled_from(UNIT_NAMES), max_size=max_terms, unique=True))
    return Unit(tuple((n, draw(st.sampled_from(EXPONENTS))) for n in names))


FORMULA_NAMES = ("a", "b", "c")
_NUMPY_BINARY = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}
_NUMPY_COMPARE = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
                  "==": np.equal, "!=": np.not_equal}
_NUMPY_UNARY = {"sqrt": np.sqrt, "exp": np.exp, "log": np.log, "log10": np.log10, "abs": np.abs}


def _leaf_name(name):
    return name, lambda v: v[name]


def _leaf_number(x):
    return repr(x), lambda v: np.float64(x)


def _binary(args):
    op, (ta, fa), (tb, fb) = args
    return f"({ta} {op} {tb})", lambda v: _NUMPY_BINARY[op](fa(v), fb(v))


def _power(args):
    (ta, fa), p = args
    return f"({ta}) ** {p!r}", lambda v: fa(v) ** np.float64(p)


def _unary(args):
    f, (ta, fa) = args
    if f == "-":
        return f"(-{ta})", lambda v: -fa(v)
    return f"{f}({ta})", lambda v: _NUMPY_UNARY[f](fa(v))


def _extreme(args):
    f, parts = args
    ufunc = np.minimum if f == "min" else np.maximum
    return (f"{f}({', '.join(t for t, _ in parts)})",
            lambda v: functools.reduce(ufunc, [g(v) for _, g in parts]))


def _clip(args):
    (tx, fx), (tl, fl), (th, fh) = args
    return f"clip({tx}, {tl}, {th})", lambda v: np.clip(fx(v), fl(v), fh(v))


def _where(args):
    (tl, fl), op, (tr, fr), (ta, fa), (tb, fb) = args
    return (f"where({tl} {op} {tr}, {ta}, {tb})",
            lambda v: np.where(_NUMPY_COMPARE[op](fl(v), fr(v)), fa(v), fb(v)))


def expressions(max_leaves: int = 12):
    """Pairs (formula text, the same expression as a function of a dict of numpy arrays)."""
    leaves = st.one_of(st.sampled_from(FORMULA_NAMES).map(_leaf_name),
                       st.sampled_from([0.5, 1.0, 2.0, 3.0, 10.0]).map(_leaf_number))

    def extend(children):
        return st.one_of(
            st.tuples(st.sampled_from(list(_NUMPY_BINARY)), children, children).map(_binary),
            st.tuples(children, st.sampled_from([2.0, 0.5, -1.0, 3.0, 1.5, -0.5])).map(_power),
            st.tuples(st.sampled_from(["-", *_NUMPY_UNARY]), children).map(_unary),
            st.tuples(st.sampled_from(["min", "max"]), st.lists(children, min_size=2, max_size=3))
            .map(_extreme),
            st.tuples(children, children, children).map(_clip),
            st.tuples(children, st.sampled_from(list(_NUMPY_COMPARE)), children, children, children)
            .map(_where),
        )

    return st.recursive(leaves, extend, max_leaves=max_leaves)


def positive_arrays(n: int = 6):
    """Dicts of positive float arrays for FORMULA_NAMES (0.01 .. 100, log-uniformish)."""
    exponent = st.floats(min_value=-2.0, max_value=2.0, allow_nan=False)
    return st.fixed_dictionaries({name: st.lists(exponent, min_size=n, max_size=n)
                                  .map(lambda e: 10.0 ** np.asarray(e)) for name in FORMULA_NAMES})
