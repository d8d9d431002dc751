"""The roofline model file: each bound on hand-computed cases, the MoE root, monotonicity, zeros, bad input."""

from __future__ import annotations

import math
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq

from overhang_sim import ConfigError, DomainError
from overhang_sim.config import load_experiment
from overhang_sim.modelspec import FormulaModel, builtin_models
from overhang_sim.simulation import simulate
from overhang_sim.summaries import summarize

ROOFLINE = builtin_models()["roofline"]
HUGE = 1e30

# A dense 70B model at BF16 on replicas of 8 accelerators (numbers chosen to divide evenly).
DENSE = dict(serving_gpus=800.0, serving_peak_flop_per_s=1e15, decode_compute_efficiency=0.5,
             gpu_memory_bytes=80e9, memory_usable_fraction=1.0, memory_bandwidth_bytes_per_s=3.35e12,
             decode_bandwidth_efficiency=1.0, params_total=70e9, params_active=70e9, bytes_per_param=2.0,
             kv_bytes_per_token=327680.0, context_tokens=8192.0, step_latency_floor_s=0.02,
             required_tokens_per_s=10.0, replica_gpus=8.0)
KV = 8192 * 327680  # bytes of one stream's KV cache
BUDGET = 1 / 10 - 0.02  # s a step may take beyond the floor at 10 tok/s


def run(**changes):
    return {k: float(v) for k, v in ROOFLINE({**DENSE, **changes}).items()}


def test_compute_bound_dense():
    out = run(gpu_memory_bytes=HUGE, memory_bandwidth_bytes_per_s=HUGE)
    batch = math.floor(BUDGET * 8 * 1e15 * 0.5 / (2 * 70e9))  # 2285
    assert out["batch"] == batch == 2285
    assert out["instances"] == 100 * batch
    assert out["compute_binds"] == 1 and out["bandwidth_binds"] == out["capacity_binds"] == 0
    assert out["streams_per_gpu"] == batch / 8
    assert out["tokens_per_gpu_s"] == pytest.approx(batch / 8 * 10)


def test_bandwidth_bound_dense():
    out = run(gpu_memory_bytes=HUGE, serving_peak_flop_per_s=HUGE)
    batch = math.floor((BUDGET * 8 * 3.35e12 - 70e9 * 2) / KV)  # 746
    assert out["batch"] == batch == 746
    assert out["instances"] == 100 * batch and out["bandwidth_binds"] == 1


def test_capacity_bound_dense():
    out = run(memory_bandwidth_bytes_per_s=HUGE, serving_peak_flop_per_s=HUGE)
    batch = math.floor((8 * 80e9 - 70e9 * 2) / KV)  # 186
    assert out["batch"] == batch == 186
    assert out["instances"] == 100 * batch and out["capacity_binds"] == 1


def test_latency_floor_gives_zero_instances():
    out = run(required_tokens_per_s=60.0)  # 1/60 s < the 0.02 s floor
    assert out["instances"] == 0 == out["batch"] == out["streams_per_gpu"]
    assert out["latency_floor_binds"] == 1
    assert out["compute_binds"] == out["bandwidth_binds"] == out["capacity_binds"] == 0


def test_serial_ceiling_dense():
    out = run()
    step = max(2 * 70e9 / (8 * 1e15 * 0.5), (140e9 + KV) / (8 * 3.35e12)) + 0.02
    assert out["max_stream_tokens_per_s"] == pytest.approx(1 / step, rel=1e-12)
    ceiling = out["max_stream_tokens_per_s"]
    assert run(required_tokens_per_s=ceiling * 1.001)["instances"] == 0
    assert run(required_tokens_per_s=ceiling * 0.999)["instances"] > 0


def test_speculative_speedup_scales_the_time_budget():
    out = run(gpu_memory_bytes=HUGE, memory_bandwidth_bytes_per_s=HUGE, speculative_speedup=2.0)
    assert out["batch"] == math.floor((2 / 10 - 0.02) * 8 * 1e15 * 0.5 / (2 * 70e9))


def test_fleet_and_share_multiply_the_accelerators():
    base, scaled = run(), run(fleet_multiplier=4.0, serving_share=0.5)
    assert scaled["instances"] == 2 * base["instances"]


# --------------------------------------------------------------------------- mixture of experts

MOE = dict(DENSE, params_total=671e9, params_active=37e9, bytes_per_param=1.0, experts_total=256.0,
           experts_per_token=8.0, kv_bytes_per_token=7e4, replica_gpus=72.0, gpu_memory_bytes=288e9,
           memory_bandwidth_bytes_per_s=8e12, serving_gpus=7200.0)


def moe(**changes):
    return {k: float(v) for k, v in ROOFLINE({**MOE, **changes}).items()}


def test_moe_shared_fraction_reproduces_the_active_share():
    out = moe()
    f, r = out["shared_param_fraction"], 8 / 256
    assert f + (1 - f) * r == pytest.approx(37 / 671, rel=1e-12)


def test_moe_compute_bound_uses_active_parameters():
    out = moe(gpu_memory_bytes=HUGE, memory_bandwidth_bytes_per_s=HUGE)
    assert out["batch"] == math.floor(BUDGET * 72 * 1e15 * 0.5 / (2 * 37e9)) and out["compute_binds"] == 1


def test_moe_capacity_bound_uses_total_parameters():
    out = moe(memory_bandwidth_bytes_per_s=HUGE, serving_peak_flop_per_s=HUGE)
    assert out["batch"] == math.floor((72 * 288e9 - 671e9) / (8192 * 7e4)) and out["capacity_binds"] == 1


def _touched_root(out, budget_bytes):
    w, f, lam, kv = 671e9, out["shared_param_fraction"], out["expert_spread"], out["kv_stream_bytes"]
    with np.errstate(over="ignore"):
        return _root(w, f, lam, kv, budget_bytes)


def _root(w, f, lam, kv, budget_bytes):
    return brentq(lambda b: w * (f + (1 - f) * (1 - np.exp(-lam * b))) + b * kv - budget_bytes, -1e9, 1e12,
                  xtol=1e-9, rtol=1e-14)


@pytest.mark.parametrize("context", [1e2, 1e3, 8192.0, 1e5])
@pytest.mark.parametrize("speed", [2.0, 10.0, 30.0])
def test_moe_bandwidth_root_is_exact(context, speed):
    """The Lambert-W (Wright omega) root against a numerical one: no approximation to bound."""
    out = moe(gpu_memory_bytes=HUGE, serving_peak_flop_per_s=HUGE, context_tokens=context,
              required_tokens_per_s=speed)
    budget = (1 / speed - 0.02) * 72 * 8e12
    root = _touched_root(out, budget)
    assert out["bandwidth_batch_1"] == pytest.approx(root, rel=1e-9, abs=1e-6)
    assert out["batch"] == math.floor(max(root, 0)) or abs(root - round(root)) < 1e-6
    assert out["bandwidth_binds"] == 1


def test_moe_touches_fewer_bytes_than_dense_at_small_batches():
    """At one stream a step reads f + (1 - f) k/E of the weights: the serial ceiling is faster than dense."""
    moe_out, dense_out = moe(), moe(experts_total=1.0, experts_per_token=1.0, params_active=671e9)
    assert moe_out["max_stream_tokens_per_s"] > dense_out["max_stream_tokens_per_s"]


def test_best_replica_size_is_the_best_candidate():
    chosen = moe(replica_gpus=0.0, serving_gpus=5000.0)
    fixed = {g: moe(replica_gpus=g, serving_gpus=5000.0)["instances"] for g in (8.0, 72.0, 144.0, 576.0, 1152.0)}
    assert chosen["instances"] == max(fixed.values())
    assert chosen["replica_gpus_chosen"] == max(fixed, key=lambda g: (fixed[g], -g))


# --------------------------------------------------------------------------- monotonicity

positive = st.floats(min_value=-1.0, max_value=1.0).map(lambda e: 10.0**e)


@settings(max_examples=60, deadline=None)
@given(bandwidth=positive, more=st.floats(min_value=1.0, max_value=100.0), peak=positive, memory=positive,
       speed=positive, context=positive, g=st.sampled_from([0.0, 8.0, 72.0]))
def test_more_bandwidth_never_fewer_instances(bandwidth, more, peak, memory, speed, context, g):
    v = dict(MOE, memory_bandwidth_bytes_per_s=8e12 * bandwidth, serving_peak_flop_per_s=5e15 * peak,
             gpu_memory_bytes=288e9 * memory * 10, required_tokens_per_s=20 * speed, context_tokens=8192 * context,
             replica_gpus=g, step_latency_floor_s=0.005)
    low = ROOFLINE(v)["instances"]
    high = ROOFLINE({**v, "memory_bandwidth_bytes_per_s": v["memory_bandwidth_bytes_per_s"] * more})["instances"]
    assert high >= low


@settings(max_examples=60, deadline=None)
@given(speed=positive, faster=st.floats(min_value=1.0, max_value=1000.0), bandwidth=positive, peak=positive,
       context=positive, dense=st.booleans(), g=st.sampled_from([0.0, 8.0, 576.0]))
def test_higher_speed_never_more_instances(speed, faster, bandwidth, peak, context, dense, g):
    v = dict(DENSE if dense else MOE, memory_bandwidth_bytes_per_s=8e12 * bandwidth,
             serving_peak_flop_per_s=5e15 * peak, required_tokens_per_s=10 * speed,
             context_tokens=4096 * context, replica_gpus=g, gpu_memory_bytes=288e9, step_latency_floor_s=0.002)
    slow = ROOFLINE(v)["instances"]
    fast = ROOFLINE({**v, "required_tokens_per_s": v["required_tokens_per_s"] * faster})["instances"]
    assert fast <= slow


# --------------------------------------------------------------------------- runs, summaries, checks


def test_zero_instances_are_reported_as_a_probability(tmp_path):
    experiment = _experiment(tmp_path, "[overrides.required_tokens_per_s]\ndist = 'loguniform'\nlow = 10\n"
                             "high = 1000\nunit = 'token/s'\n")
    summary = summarize(simulate(experiment))
    p0 = float(summary["prob_zero"].sel(output="instances"))
    assert 0 < p0 < 1 and np.isfinite(float(summary["prob_zero_mcse"].sel(output="instances")))
    low = summary["hdi_lower"].sel(output="instances", scale="log10")
    assert not np.isnan(low).any()  # the atom at log10(0) = -inf does not make the HDI NaN
    binds = [f"{b}_binds" for b in ("compute", "bandwidth", "capacity", "latency_floor")]
    assert all(bool(summary["binary"].sel(output=b)) for b in binds)
    total = sum(float(summary["mean"].sel(output=b, scale="linear")) for b in binds)
    assert total == pytest.approx(1.0, abs=1e-12)  # exactly one bound binds in each draw
    assert float(summary["mean"].sel(output="latency_floor_binds", scale="linear")) <= p0


def test_shipped_experiment_loads_and_every_prior_has_a_source_with_a_year():
    experiment = load_experiment("experiments/roofline_gb300.toml")
    assert experiment.model == "roofline"
    import re

    for name, prior in experiment.priors.items():
        assert re.search(r"(19|20)\d\d", prior.source), name


def test_roofline_pickles_with_its_checks():
    copy = pickle.loads(pickle.dumps(ROOFLINE))
    assert copy == ROOFLINE and copy.checks == ROOFLINE.checks and len(copy.checks) == 3
    np.testing.assert_array_equal(copy(MOE)["instances"], ROOFLINE(MOE)["instances"])


def test_check_failure_in_sampled_draws_names_the_numbers(tmp_path):
    experiment = _experiment(tmp_path, "[overrides.params_active]\ndist = 'lognormal'\np05 = 1e11\n"
                             "p95 = 1e13\nunit = 'parameter'\n")
    with pytest.raises(DomainError) as caught:
        simulate(experiment)
    error = caught.value
    assert error.key == "params_active" and error.file.endswith("e.toml")
    assert "exceeds params_total 6.71e+11 parameter" in error.problem and "draws)" in error.problem


def test_checks_in_a_model_file_are_checked_when_it_loads():
    table = {"name": "t", "main": "y", "quantities": {"a": {"unit": "1"}, "b": {"unit": "1"},
                                                       "y": {"unit": "1", "formula": "a + b"}}}
    with pytest.raises(ConfigError, match=r"checks\[0\]\.condition: must be a comparison"):
        FormulaModel.from_table({**table, "checks": [{"condition": "a + b"}]})
    with pytest.raises(ConfigError, match=r"checks\[0\]\.message: \{c\} is not a quantity"):
        FormulaModel.from_table({**table, "checks": [{"condition": "a < b", "message": "{c}"}]})
    with pytest.raises(ConfigError, match=r"checks\[0\]\.keys: unknown key"):
        FormulaModel.from_table({**table, "checks": [{"condition": "a < b", "keys": "a"}]})
    model = FormulaModel.from_table({**table, "checks": [{"condition": "a < b", "message": "a {a} >= b {b}"}]})
    assert model({"a": np.array([1.0, 2.0]), "b": 3.0})["y"].tolist() == [4.0, 5.0]
    with pytest.raises(DomainError, match=r"a: a 4 >= b 3 \(in 1 of 2 draws\)"):
        model({"a": np.array([1.0, 4.0]), "b": 3.0})


# --------------------------------------------------------------------------- bad input, through the CLI

BAD = {
    "replica": ("[overrides.replica_gpus]\nvalue = 8\nunit = 'GPU'\n[overrides.params_total]\nvalue = 3e12\n"
                "unit = 'parameter'\n", "params_total", "a replica cannot hold the weights"),
    "speculation": ("[overrides.speculative_speedup]\nvalue = 0.5\nunit = '1'\n", "speculative_speedup",
                    "outside the physical domain [1, inf]"),
    "efficiency": ("[overrides.decode_compute_efficiency]\ndist = 'uniform'\nlow = 0.5\nhigh = 1.5\nunit = '1'\n",
                   "decode_compute_efficiency", "outside the physical domain (0, 1]"),
    "zero_efficiency": ("[overrides.decode_bandwidth_efficiency]\nvalue = 0\nunit = '1'\n",
                        "decode_bandwidth_efficiency", "outside the physical domain (0, 1]"),
    "active": ("[overrides.params_active]\nvalue = 7e11\nunit = 'parameter'\n", "params_active",
               "params_active 7e+11 parameter exceeds params_total 6.71e+11 parameter"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_one_line_exit_2_nothing_written(tmp_path, case):
    text, key, problem = BAD[case]
    path = _experiment_file(tmp_path, text)
    out = tmp_path / "run.nc"
    done = subprocess.run([sys.executable, "-m", "overhang_sim.cli", "run", str(path), "--out", str(out),
                           "--samples", "800", "--quiet"], capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert f": {key}: " in lines[0] and problem in lines[0], lines[0]
    assert lines[0].startswith("overhang: error: ") and ".toml" in lines[0]
    assert not out.exists() and not list(tmp_path.glob("run*"))


def test_replica_error_names_the_numbers(tmp_path):
    """With every input of the check fixed it fails when the experiment loads, before any sampling."""
    text = BAD["replica"][0] + "[overrides.gpu_memory_bytes]\nvalue = 288e9\nunit = 'byte/GPU'\n"
    with pytest.raises(DomainError) as caught:
        load_experiment(_experiment_file(tmp_path, text))
    assert "3e+12 parameter x bytes_per_param 1 byte/parameter = 3e+12 byte" in caught.value.problem
    assert "8 GPU x" in caught.value.problem


def _experiment_file(tmp_path, extra: str):
    root = __import__("pathlib").Path(__file__).resolve().parents[1]
    path = tmp_path / "e.toml"
    path.write_text(textwrap.dedent(f"""\
        name = "t"
        model = "roofline"
        priors = ["{root / 'priors' / 'roofline.toml'}"]
        samples = 4000
        chains = 4
        seed = 1
        """) + extra)
    return path


def _experiment(tmp_path, extra: str):
    return load_experiment(_experiment_file(tmp_path, extra))
