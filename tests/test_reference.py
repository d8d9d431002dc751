"""Known answers: the reference table (docs/howto/reproduce.md), through the shipped experiment files.

Each row is checked twice: rounded to the digits that table shows, it equals the
number shown; and it equals the same formula evaluated here with Python floats, to
rel=1e-12 (a handful of roundings of 2**-53 each, nothing statistical).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import EXPERIMENTS, compute_inputs

from overhang_sim import load_experiment, simulate, summarize
from overhang_sim.models import MODELS

DAY = 86_400.0


def _seed001(utilization: float) -> tuple[float, float]:
    """(cluster tokens/s, streams at 50 tok/s) of seed 001's lower bound, from first principles."""
    flop_per_s = 1e21
    train_flop = flop_per_s * utilization * 365.25 * DAY
    params = math.sqrt(train_flop / (6 * 20 * 1))
    tokens_per_s = flop_per_s * utilization / (2 * params)
    return tokens_per_s, tokens_per_s / 50


def _llama3_tokens_per_gpu_s() -> float:
    utilization = 6 * 70e9 * 15e12 / (6.4e6 * 3600 * 9.89e14)
    gpus, days = 16_000, 6.4e6 / 16_000 / 24
    flop_per_s = gpus * 9.89e14
    params = math.sqrt(flop_per_s * utilization * days * DAY / (6 * (15e12 / 70e9)))
    return flop_per_s * utilization / (2 * params) / gpus


# (experiment file, output, value the table shows, significant digits shown, first-principles value)
REFERENCE_ROWS = [
    ("seed000_text", "instances", 1_200_000, 2, 24_000 * 2_000 / 40),
    ("seed000_comments", "instances", 1_600_000, 2, 24_000 * 2_000 / 30),
    ("seed000_comments", "serial_speedup", 10, 2, 300 / 30),
    ("seed000_appendix", "human_training_bits", 6e15, 1, 6e8 * 1e7),
    ("seed000_appendix", "model_training_bits", 2.4e14, 2, 1.5e13 * 16),
    ("seed001_lower_bound", "cluster_tokens_per_s", 3.08e7, 3, _seed001(1.0)[0]),
    ("seed001_lower_bound", "instances", 6.2e5, 2, _seed001(1.0)[1]),
    ("seed001_55pct", "cluster_tokens_per_s", 2.30e7, 3, _seed001(0.5565)[0]),
    ("seed001_55pct", "instances", 4.6e5, 2, _seed001(0.5565)[1]),
    ("llama3_70b_crosscheck", "tokens_per_gpu_s", 1_953, 4, _llama3_tokens_per_gpu_s()),
    ("seed003_price_v100", "usd_per_pflops_day", 913, 3, 10_000 / (0.030 * 365)),
    ("seed003_price_rtx2080ti", "usd_per_pflops_day", 21.9, 3, 1_000 / (0.125 * 365)),
]


def _round_sig(x: float, digits: int) -> float:
    return float(f"{x:.{digits}g}")


@pytest.fixture(scope="module")
def reference_runs():
    names = {row[0] for row in REFERENCE_ROWS}
    return {n: simulate(load_experiment(EXPERIMENTS / f"{n}.toml")) for n in names}


@pytest.mark.parametrize(("experiment", "output", "shown", "digits", "exact"), REFERENCE_ROWS,
                         ids=[f"{r[0]}-{r[1]}" for r in REFERENCE_ROWS])
def test_reference_row(reference_runs, experiment, output, shown, digits, exact):
    values = reference_runs[experiment][output].values
    assert values.shape == (1, 1)
    value = float(values[0, 0])
    assert _round_sig(value, digits) == shown
    assert value == pytest.approx(exact, rel=1e-12)


def test_reference_experiments_are_point_values():
    for name in {row[0] for row in REFERENCE_ROWS}:
        experiment = load_experiment(EXPERIMENTS / f"{name}.toml")
        assert experiment.sampled == (), name


def test_seed001_55pct_is_the_utilization_of_23_million():
    # With u on both sides, tokens/s scales as sqrt(u), so 23 million tok/s needs
    # u = (2.3e7 / full)^2; experiments/seed001_55pct.toml quotes it to 4 decimals
    # (0.5565), so it must agree to half a unit of the 4th decimal.
    full, _ = _seed001(1.0)
    assert (2.3e7 / full) ** 2 == pytest.approx(0.5565, abs=5e-5)


@pytest.mark.parametrize("method", ["mc", "lhs", "sobol"])
def test_point_value_run_is_the_same_in_every_chain_and_method(method):
    experiment = dataclasses.replace(load_experiment(EXPERIMENTS / "seed001_55pct.toml"),
                                     method=method, samples=16, chains=4)
    run = simulate(experiment, seed=3)
    tokens = run["cluster_tokens_per_s"].values
    assert tokens.shape == (4, 4)
    assert np.all(tokens == tokens.flat[0])
    assert tokens.flat[0] == pytest.approx(_seed001(0.5565)[0], rel=1e-12)
    summary = summarize(run)
    s = summary.sel(output="cluster_tokens_per_s", scale="linear")
    assert np.all(s["quantile"].values == tokens.flat[0])
    assert np.all(s["quantile_mcse"].values == 0.0)  # every chain agrees exactly


def test_usd_per_pflops_day_examples():
    """Seed 003's unit through the hardware_price model file: USD/(FLOP/s * day) converted to USD/(PFLOP/s-day)."""
    price = MODELS["hardware_price"]
    v100 = price({"unit_price_usd": 10_000.0, "unit_flop_per_s": 30e12, "amortization_days": 365.0})
    rtx = price({"unit_price_usd": 1_000.0, "unit_flop_per_s": 125e12, "amortization_days": 365.0})
    assert round(float(v100["usd_per_pflops_day"])) == 913
    assert round(float(rtx["usd_per_pflops_day"]), 1) == 21.9


@settings(max_examples=60)
@given(compute_inputs())
def test_cluster_tokens_identity(values):
    """compute.toml: cluster_tokens_per_s == (k_t/k_i)(u_i/u_t) train_tokens / train_seconds.

    Both sides are ~10 floating-point operations of relative error 2**-53 each, so
    they agree to far better than rel=1e-12.
    """
    out = MODELS["compute"](values)
    v = values
    rhs = (v["train_flop_per_param_token"] / v["infer_flop_per_param_token"]
           * (v["inference_utilization"] / v["train_utilization"])
           * out["train_tokens"] / out["train_seconds"])
    np.testing.assert_allclose(out["cluster_tokens_per_s"], rhs, rtol=1e-12)
    np.testing.assert_allclose(out["tokens_per_gpu_s"] * v["cluster_gpus"], out["cluster_tokens_per_s"],
                               rtol=1e-12)
    np.testing.assert_allclose(out["train_flop"],
                               v["train_flop_per_param_token"] * out["params"] * out["train_tokens"],
                               rtol=1e-12)


@settings(max_examples=30)
@given(compute_inputs(), st.floats(min_value=1e5, max_value=1e11))
def test_budget_path_matches_compute_path_for_the_same_training_flop(values, budget):
    """Spending budget_usd at usd_per_flop buys the cluster the compute path would need."""
    compute = MODELS["compute"](values)
    usd_per_flop = budget / compute["train_flop"]
    budget_values = {k: v for k, v in values.items() if k != "gpu_peak_flop_per_s"}
    out = MODELS["budget"]({**budget_values, "budget_usd": budget, "usd_per_flop": usd_per_flop})
    for name in ("train_flop", "cluster_flop_per_s", "params", "cluster_tokens_per_s", "instances",
                 "tokens_per_gpu_s"):
        np.testing.assert_allclose(out[name], compute[name], rtol=1e-12, err_msg=name)
