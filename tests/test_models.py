"""The shipped model files: input checks, scaling laws, monotonicity, closed-form outputs.

The compute path gives (src/overhang_sim/data/models/compute.toml; docs/models.rst)

    params    = sqrt(F u_t T / (k_t r H)),   F = cluster_gpus * gpu_peak_flop_per_s,  T = 86400 days
    instances = F u_i / (k_i params R)
              = F^(1/2) u_i u_t^(-1/2) T^(-1/2) k_t^(1/2) r^(1/2) H^(1/2) k_i^(-1) R^(-1)

so each input enters as a power. ELASTICITIES lists those powers: multiplying one
input by c multiplies instances by exactly c**power (to a few roundings: rel=1e-12),
and the sign of the power is the direction of the effect. Note the ones a reader
might not guess: longer training or better training utilization *lowers* the count
(the same compute makes a bigger model that is dearer to serve), and a higher
Chinchilla ratio or horizon length *raises* it (a smaller model for the same compute).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import compute_inputs, factors

from overhang_sim import MODELS, QUANTITIES, ModelInputError

SECONDS_PER_DAY = 86_400.0

ELASTICITIES = {
    "throughput": {"cluster_gpus": 1.0, "tokens_per_gpu_s": 1.0, "required_tokens_per_s": -1.0},
    "compute": {
        "cluster_gpus": 0.5,
        "gpu_peak_flop_per_s": 0.5,
        "inference_utilization": 1.0,
        "train_utilization": -0.5,
        "train_days": -0.5,
        "chinchilla_ratio": 0.5,
        "horizon_length": 0.5,
        "train_flop_per_param_token": 0.5,
        "infer_flop_per_param_token": -1.0,
        "required_tokens_per_s": -1.0,
    },
    "budget": {
        "budget_usd": 0.5,
        "usd_per_flop": -0.5,
        "inference_utilization": 1.0,
        "train_utilization": -1.0,
        "train_days": -1.0,
        "chinchilla_ratio": 0.5,
        "horizon_length": 0.5,
        "train_flop_per_param_token": 0.5,
        "infer_flop_per_param_token": -1.0,
        "required_tokens_per_s": -1.0,
    },
}


@st.composite
def path_inputs(draw, model):
    values = draw(compute_inputs(n=6))
    if model == "throughput":
        return {"cluster_gpus": values["cluster_gpus"],
                "tokens_per_gpu_s": 10.0 ** (2 + 2 * np.asarray(draw(st.lists(st.floats(0, 1), min_size=6,
                                                                              max_size=6)))),
                "required_tokens_per_s": values["required_tokens_per_s"]}
    if model == "budget":
        values = {k: v for k, v in values.items() if k not in ("cluster_gpus", "gpu_peak_flop_per_s")}
        values["budget_usd"] = 10.0 ** (6 + 5 * np.asarray(draw(st.lists(st.floats(0, 1), min_size=6,
                                                                          max_size=6))))
        values["usd_per_flop"] = np.full(6, 1e-18)
    return values


CASES = [(m, name) for m, table in ELASTICITIES.items() for name in table]


@pytest.mark.parametrize(("model", "name"), CASES, ids=[f"{m}-{n}" for m, n in CASES])
@settings(max_examples=15)
@given(data=st.data(), factor=factors)
def test_instances_scale_as_a_power_of_each_input(model, name, data, factor):
    values = data.draw(path_inputs(model))
    power = ELASTICITIES[model][name]
    if "utilization" in name:  # keep utilizations inside (0, 1]
        values[name] = values[name] / 100.0
    before = MODELS[model](values)["instances"]
    after = MODELS[model]({**values, name: values[name] * factor})["instances"]
    np.testing.assert_allclose(after / before, factor**power, rtol=1e-12)
    # the direction of the effect
    assert np.all(after > before) if power > 0 else np.all(after < before)


@settings(max_examples=30)
@given(compute_inputs(n=6), st.integers(1, 8))
def test_throughput_linear_in_gpus_and_inverse_in_speed_exactly_for_powers_of_two(values, k):
    """Multiplying by 2**k is exact in binary floating point, so these are equalities."""
    model = MODELS["throughput"]
    v = {"cluster_gpus": values["cluster_gpus"], "tokens_per_gpu_s": values["required_tokens_per_s"] * 50,
         "required_tokens_per_s": values["required_tokens_per_s"]}
    base = model(v)["instances"]
    np.testing.assert_array_equal(model({**v, "cluster_gpus": v["cluster_gpus"] * 2**k})["instances"],
                                  base * 2**k)
    np.testing.assert_array_equal(
        model({**v, "required_tokens_per_s": v["required_tokens_per_s"] * 2**k})["instances"], base / 2**k)


def test_compute_path_formulas():
    v = {"cluster_gpus": np.array([1e4, 2e5]), "gpu_peak_flop_per_s": np.array([1e15, 2e15]),
         "train_utilization": np.array([0.4, 0.5]), "inference_utilization": np.array([0.3, 0.2]),
         "train_days": np.array([100.0, 50.0]), "chinchilla_ratio": np.array([20.0, 200.0]),
         "horizon_length": np.array([1.0, 10.0]), "required_tokens_per_s": np.array([30.0, 5.0]),
         "fast_stream_tokens_per_s": np.array([300.0, 1000.0]), "tokens_per_task": np.array([2.6e6, 1e7])}
    out = MODELS["compute"](v)  # k_t = 6, k_i = 2 by default
    flop = v["cluster_gpus"] * v["gpu_peak_flop_per_s"]
    seconds = v["train_days"] * 86_400
    train_flop = flop * v["train_utilization"] * seconds
    params = np.sqrt(train_flop / (6 * v["chinchilla_ratio"] * v["horizon_length"]))
    tokens = flop * v["inference_utilization"] / (2 * params)
    expected = {
        "cluster_flop_per_s": flop, "train_seconds": seconds, "train_flop": train_flop, "params": params,
        "train_tokens": v["chinchilla_ratio"] * v["horizon_length"] * params,
        "cluster_tokens_per_s": tokens, "tokens_per_gpu_s": tokens / v["cluster_gpus"],
        "instances": tokens / v["required_tokens_per_s"],
        "serial_speedup": v["fast_stream_tokens_per_s"] / v["required_tokens_per_s"],
        "tasks_per_day": tokens * 86_400 / v["tokens_per_task"],
    }
    assert set(out) == set(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(out[name], value, rtol=1e-12, err_msg=name)


def test_compute_path_accepts_cluster_flop_per_s_instead_of_gpus():
    common = {"train_utilization": 0.4, "inference_utilization": 0.3, "train_days": 90.0,
              "chinchilla_ratio": 20.0, "required_tokens_per_s": 40.0}
    by_gpus = MODELS["compute"]({**common, "cluster_gpus": 2.0e4, "gpu_peak_flop_per_s": 1.0e15})
    by_flop = MODELS["compute"]({**common, "cluster_flop_per_s": 2.0e19})
    assert by_flop["instances"] == pytest.approx(by_gpus["instances"], rel=1e-12)
    assert "tokens_per_gpu_s" not in by_flop  # no GPU count, no per-GPU rate


def test_budget_path_price_units_agree():
    common = {"budget_usd": 1e9, "train_utilization": 0.4, "inference_utilization": 0.3,
              "train_days": 90.0, "chinchilla_ratio": 20.0, "required_tokens_per_s": 40.0}
    per_pflops_day = 913.0
    a = MODELS["budget"]({**common, "usd_per_pflops_day": per_pflops_day})
    b = MODELS["budget"]({**common, "usd_per_flop": per_pflops_day / (1e15 * SECONDS_PER_DAY)})
    for name in ("train_flop", "instances", "params"):
        assert a[name] == pytest.approx(b[name], rel=1e-12)


def test_data_volume_and_hardware_price_paths():
    out = MODELS["data_volume"]({"human_seconds": 6e8, "human_bits_per_s": 1e7,
                                 "train_tokens_total": 1.5e13, "bits_per_token": 16.0})
    assert out["human_training_bits"] == pytest.approx(6e15, rel=1e-12)
    assert out["model_training_bits"] == pytest.approx(2.4e14, rel=1e-12)
    assert out["human_to_model_data_ratio"] == pytest.approx(25.0, rel=1e-12)
    price = MODELS["hardware_price"]({"unit_price_usd": 1e4, "unit_flop_per_s": 3e13, "amortization_days": 365.0})
    assert price["usd_per_pflops_day"] == pytest.approx(1e4 / (0.03 * 365), rel=1e-12)


def test_throughput_derived_outputs():
    out = MODELS["throughput"]({"cluster_gpus": 24_000.0, "tokens_per_gpu_s": 2_000.0,
                                "required_tokens_per_s": 30.0, "fast_stream_tokens_per_s": 300.0,
                                "tokens_per_task": 2.6e6})
    assert out["serial_speedup"] == pytest.approx(10.0, rel=1e-12)
    assert out["tasks_per_day"] == pytest.approx(24_000 * 2_000 * 86_400 / 2.6e6, rel=1e-12)


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_name_is_a_quantity_and_outputs_are_declared(model):
    spec = MODELS[model]
    for name in (*spec.inputs, *spec.outputs):
        assert name in QUANTITIES
    assert spec.outputs[0] in ("instances", "human_to_model_data_ratio", "usd_per_pflops_day")


# ---------------------------------------------------------------------------- check_inputs

THROUGHPUT = {"cluster_gpus", "tokens_per_gpu_s", "required_tokens_per_s"}
COMPUTE = {"cluster_gpus", "gpu_peak_flop_per_s", "train_utilization", "inference_utilization", "train_days",
           "chinchilla_ratio", "required_tokens_per_s"}


def test_check_inputs_accepts_complete_sets():
    MODELS["throughput"].check_inputs(THROUGHPUT)
    MODELS["throughput"].check_inputs(THROUGHPUT | {"fast_stream_tokens_per_s", "tokens_per_task"})
    MODELS["compute"].check_inputs(COMPUTE)  # k_t, k_i, horizon_length have defaults
    MODELS["compute"].check_inputs(COMPUTE - {"cluster_gpus", "gpu_peak_flop_per_s"} | {"cluster_flop_per_s"})


@pytest.mark.parametrize(("model", "given", "key", "words"), [
    ("throughput", THROUGHPUT - {"tokens_per_gpu_s"}, "tokens_per_gpu_s_max", "needs a prior for it (or for tokens_per_gpu_s)"),
    ("throughput", THROUGHPUT | {"tokens_per_gpu"}, "tokens_per_gpu", "did you mean 'tokens_per_gpu_s'"),
    ("compute", COMPUTE | {"cluster_flop_per_s"}, "gpu_peak_flop_per_s",
     "cluster_flop_per_s is given instead of its formula"),
    ("compute", COMPUTE - {"cluster_gpus", "gpu_peak_flop_per_s"}, "cluster_gpus",
     "needs a prior for it (or for cluster_flop_per_s)"),
    ("compute", COMPUTE - {"gpu_peak_flop_per_s"}, "gpu_peak_flop_per_s", "needs a prior for"),
])
def test_check_inputs_names_the_problem(model, given, key, words):
    with pytest.raises(ModelInputError) as info:
        MODELS[model].check_inputs(set(given))
    assert info.value.key == key
    assert words in str(info.value)
    assert isinstance(info.value, KeyError)
    assert str(info.value).startswith(f"{key}: ")  # one line, no KeyError quoting
