"""Issue 10's serving inputs on the shipped paths: closed forms on hand-computed cases, the
defaults that change nothing, the conventions every new prior states, and their sources.

The bad-input cases (precision and accelerator mismatches, efficiencies outside (0, 1])
are in test_config_errors; the snapshot of every shipped experiment in
test_model_integration.
"""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import EXPERIMENTS, PRIORS
from test_model_files import NEW_INPUTS

from overhang_sim import load_experiment, load_priors
from overhang_sim.conventions import unstated
from overhang_sim.modelspec import builtin_models

BUILTIN = builtin_models()
YEAR = re.compile(r"\b(19|20)\d\d\b")
DAY = 86_400.0

# seed 001's lower bound: 1e21 FLOP/s for a Julian year, Chinchilla 20, H = 1, utilizations 1
SEED001 = {"cluster_flop_per_s": 1e21, "train_days": 365.25, "chinchilla_ratio": 20.0, "train_utilization": 1.0,
           "inference_utilization": 1.0, "required_tokens_per_s": 50.0}
SEED001_FLOP = 1e21 * 365.25 * DAY                       # 3.15576e28 FLOP
SEED001_PARAMS = math.sqrt(SEED001_FLOP / (6 * 20))      # 1.6217e13 parameters
SEED001_TOKENS_PER_S = 1e21 / (2 * SEED001_PARAMS)       # 3.0832e7 tok/s
THROUGHPUT = {"cluster_gpus": 24_000.0, "tokens_per_gpu_s": 2_000.0, "required_tokens_per_s": 40.0}


def compute(**changes):
    return BUILTIN["compute"]({**SEED001, **changes})


def test_the_hand_computed_base_case():
    out = compute()
    assert out["params"] == pytest.approx(1.6217e13, rel=1e-4)
    assert out["cluster_tokens_per_s"] == pytest.approx(SEED001_TOKENS_PER_S, rel=1e-13)


# --------------------------------------------------------------------------- fleet and share


@pytest.mark.parametrize("model", ["throughput", "compute", "budget"])
def test_the_defaults_are_today_s_numbers_bit_for_bit(model):
    values = {"throughput": THROUGHPUT, "compute": SEED001,
              "budget": {**SEED001, "budget_usd": 1e9, "usd_per_flop": 1e-18, "cluster_gpus": 1e5}}[model]
    values = {k: v for k, v in values.items() if k in BUILTIN[model].inputs}
    spec = BUILTIN[model]
    explicit = {n: spec.defaults[n] for n in NEW_INPUTS[model] if n in spec.defaults}
    assert BUILTIN[model](values) == BUILTIN[model]({**values, **explicit})
    assert {"human_equivalents"}.isdisjoint(BUILTIN[model](values))  # needs speed_multiple


def test_the_fleet_and_its_share_scale_the_throughput_path():
    out = BUILTIN["throughput"]({**THROUGHPUT, "fleet_multiplier": 12.0, "serving_share": 0.25})
    assert out["instances"] == pytest.approx(24_000 * 12 * 0.25 * 2_000 / 40, rel=1e-15)   # 3.6e6


def test_the_fleet_serves_more_tokens_but_not_more_per_gpu():
    base, fleet = compute(cluster_gpus=1e5), compute(cluster_gpus=1e5, fleet_multiplier=4.0, serving_share=0.1)
    assert fleet["cluster_tokens_per_s"] == pytest.approx(0.4 * base["cluster_tokens_per_s"], rel=1e-15)
    assert fleet["tokens_per_gpu_s"] == pytest.approx(base["tokens_per_gpu_s"], rel=1e-15)
    assert fleet["params"] == base["params"]  # the trained model is the training cluster's


# --------------------------------------------------------------------------- human-equivalence


@pytest.mark.parametrize("model", ["throughput", "compute"])
def test_human_equivalence(model):
    values = {k: v for k, v in (THROUGHPUT if model == "throughput" else SEED001).items() if k != "required_tokens_per_s"}
    out = BUILTIN[model]({**values, "human_tokens_per_s": 5.0, "speed_multiple": 8.0, "tokens_per_human_token": 2.0})
    assert out["required_tokens_per_s"] == 80.0
    total = 48e6 if model == "throughput" else SEED001_TOKENS_PER_S
    assert out["instances"] == pytest.approx(total / 80, rel=1e-13)
    assert out["human_equivalents"] == pytest.approx(8 * total / 80, rel=1e-13)   # = total / (5 x 2)


# --------------------------------------------------------------------------- the served model


def test_a_mixture_of_experts_serves_one_over_the_root_of_its_active_fraction():
    # params_total = sqrt(C / (6 f 20)), served at 2 f params_total per token:
    # tokens/s = 1e21 / (2 f sqrt(C / (120 f))) = (dense tokens/s) / sqrt(f)
    out = compute(active_param_fraction=0.05)
    assert out["params"] == pytest.approx(math.sqrt(SEED001_FLOP / (6 * 0.05 * 20)), rel=1e-13)   # 7.25e13
    assert out["cluster_tokens_per_s"] == pytest.approx(SEED001_TOKENS_PER_S / math.sqrt(0.05), rel=1e-13)
    assert out["cluster_tokens_per_s"] == pytest.approx(1.3789e8, rel=1e-4)


def test_distillation_and_the_serving_precision_divide_and_multiply():
    out = compute(deploy_param_fraction=0.1, serving_peak_ratio=2.0)
    assert out["params"] == compute()["params"]  # the trained model does not change
    assert out["cluster_tokens_per_s"] == pytest.approx(SEED001_TOKENS_PER_S * 2 / 0.1, rel=1e-13)


def test_the_attention_term():
    # 2 x 80 layers x 1e5 tokens x 8192 = 1.31072e11 FLOP per token, next to 2 x 1.6217e13 for the weights
    out = compute(context_tokens=1e5, n_layers=80.0, d_attention=8192.0)
    weights, attention = 2 * SEED001_PARAMS, 2 * 80 * 1e5 * 8192
    assert out["cluster_tokens_per_s"] == pytest.approx(1e21 / (weights + attention), rel=1e-13)
    assert attention == 1.31072e11


def test_a_data_cap_that_binds_trains_a_bigger_model_on_the_whole_stock():
    # uncapped: train_tokens = 20 x 1.6217e13 = 3.24e14; a 1e14 stock binds
    out = compute(data_stock_tokens=1e14)
    assert out["train_tokens"] == 1e14
    assert out["params"] == pytest.approx(SEED001_FLOP / (6 * 1e14), rel=1e-15)   # 5.26e13
    # (k_t/k_i) (u_i/u_t) train_tokens / train_seconds still holds
    assert out["cluster_tokens_per_s"] == pytest.approx(3 * 1e14 / (365.25 * DAY), rel=1e-13)


def test_a_data_cap_that_does_not_bind_changes_nothing():
    assert compute(data_stock_tokens=1e15) == compute()


@settings(max_examples=60, deadline=None)
@given(cap=st.floats(1e10, 1e18), fraction=st.floats(0.01, 1.0), ratio=st.floats(1.0, 1e3))
def test_the_cap_is_a_min_and_the_identity_holds(cap, fraction, ratio):
    out = compute(data_stock_tokens=cap, active_param_fraction=fraction, chinchilla_ratio=ratio)
    free = compute(active_param_fraction=fraction, chinchilla_ratio=ratio)
    assert out["train_tokens"] == pytest.approx(min(cap, free["train_tokens"]), rel=1e-12)
    assert out["params"] >= free["params"] * (1 - 1e-12)
    assert out["instances"] <= free["instances"] * (1 + 1e-12)
    expected = 3 * out["train_tokens"] / (365.25 * DAY)
    assert out["cluster_tokens_per_s"] == pytest.approx(expected, rel=1e-12)


# --------------------------------------------------------------------------- the throughput curve


def curve(required, **changes):
    values = {"cluster_gpus": 1e4, "tokens_per_gpu_s_max": 8000.0, "knee_tokens_per_s": 12.0,
              "throughput_slope": 1.2, "required_tokens_per_s": required, **changes}
    return BUILTIN["throughput"](values)


def test_the_throughput_curve_at_its_knee_and_far_above_it():
    assert curve(12.0)["tokens_per_gpu_s"] == pytest.approx(8000 * 2 ** (-1.2 / 2), rel=1e-14)
    assert curve(12.0, knee_sharpness=4.0)["tokens_per_gpu_s"] == pytest.approx(8000 * 2 ** (-1.2 / 4), rel=1e-14)
    assert curve(1e-6)["tokens_per_gpu_s"] == pytest.approx(8000, rel=1e-12)
    # far above the knee instances fall as s^-(1 + beta)
    ratio = curve(1e6)["instances"] / curve(1e7)["instances"]
    assert ratio == pytest.approx(10 ** 2.2, rel=1e-9)


def test_a_measured_throughput_replaces_the_curve():
    assert curve(40.0, tokens_per_gpu_s=2000.0)["instances"] == 1e4 * 2000 / 40
    with pytest.raises(Exception, match="is given but not used"):
        BUILTIN["throughput"].check_inputs({"cluster_gpus", "tokens_per_gpu_s", "required_tokens_per_s",
                                            "knee_tokens_per_s"})


# --------------------------------------------------------------------------- sources and conventions


@pytest.mark.parametrize("model", sorted(NEW_INPUTS))
def test_every_new_input_cites_a_source_with_a_year(model):
    for name in sorted(NEW_INPUTS[model]):
        source = BUILTIN[model].quantities[name].source
        assert YEAR.search(source), (model, name, source)


@pytest.mark.parametrize("model", ["compute", "throughput", "budget"])
def test_the_frontier_priors_give_every_input_and_state_every_convention(model):
    priors = load_priors(PRIORS / "frontier_2027.toml")
    spec = BUILTIN[model]
    mine = {n: p for n, p in priors.items() if n in spec.inputs}
    assert unstated(spec, mine) == []
    plain = {n for n, q in spec.quantities.items() if q.formula is None}  # inputs, not overridable outputs
    optional_alternatives = {"tokens_per_gpu_s"} if model == "throughput" else set()
    if model == "budget":
        optional_alternatives |= {"usd_per_flop"}
    assert plain - set(mine) == set(), model
    assert not optional_alternatives & set(mine)


@pytest.mark.parametrize("name", ["frontier_2027", "frontier_2027_throughput", "baseline", "baseline_throughput"])
def test_shipped_experiments_state_their_conventions(name):
    experiment = load_experiment(EXPERIMENTS / f"{name}.toml")
    assert unstated(experiment.model_spec, experiment.priors) == []
