"""simulate(): Dataset layout and provenance, reproducibility, chunk invariance, stable
streams, designs seen through the margins, and the Gaussian copula's rank correlation."""

from __future__ import annotations

import dataclasses
import hashlib
import math

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from scipy import stats
from strategies import (
    COMPUTE_PRIORS,
    THROUGHPUT_PRIORS,
    experiment_toml,
    fixed,
    lognormal,
    methods,
    seeds,
    without_times,
)

import overhang_sim
from overhang_sim import load_experiment, simulate

CORRELATION = [{"inputs": ["cluster_gpus", "tokens_per_gpu_s"], "rank": 0.5}]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("experiments")


def _load(folder, filename, priors, **kwargs):
    path = folder / filename
    path.write_text(experiment_toml(priors, **kwargs), encoding="utf-8")
    return load_experiment(path)


@pytest.fixture(scope="module")
def throughput(folder):
    priors = {**THROUGHPUT_PRIORS, "fast_stream_tokens_per_s": fixed(300.0)}
    return _load(folder, "throughput.toml", priors, samples=40, chains=4)


@pytest.fixture(scope="module")
def compute(folder):
    return _load(folder, "compute.toml", COMPUTE_PRIORS, model="compute", samples=40, chains=4)


@pytest.fixture(scope="module")
def correlated(folder):
    return _load(folder, "correlated.toml", THROUGHPUT_PRIORS, samples=40, chains=4, correlations=CORRELATION)


# ---------------------------------------------------------------------------- layout


def test_dataset_layout(throughput):
    run = simulate(throughput, seed=5)
    assert dict(run.sizes) == {"chain": 4, "draw": 10}
    np.testing.assert_array_equal(run["chain"], np.arange(4))
    np.testing.assert_array_equal(run["draw"], np.arange(10))
    spec = throughput.model_spec
    for name in throughput.sampled:
        assert run[name].dims == ("chain", "draw")
        assert run[name].attrs["role"] == "input"
    assert run["fast_stream_tokens_per_s"].dims == ()
    assert float(run["fast_stream_tokens_per_s"]) == 300.0
    assert run["fast_stream_tokens_per_s"].attrs["role"] == "input"
    for name in ("instances", "cluster_tokens_per_s", "serial_speedup"):
        assert run[name].dims == ("chain", "draw")
        assert run[name].attrs["role"] == "output"
        assert name in spec.outputs
    for name, var in run.data_vars.items():
        assert var.attrs["units"] == overhang_sim.QUANTITIES[name].unit
        assert var.attrs["long_name"] == overhang_sim.QUANTITIES[name].long_name


def test_provenance_attrs(throughput):
    run = simulate(throughput, seed=5)
    text = open(throughput.path, encoding="utf-8").read()
    assert run.attrs["experiment_text"] == text
    assert run.attrs["experiment_sha256"] == hashlib.sha256(text.encode()).hexdigest()
    assert run.attrs["seed"] == 5
    assert run.attrs["method"] == "mc"
    assert (run.attrs["samples"], run.attrs["chains"], run.attrs["draws"]) == (40, 4, 10)
    assert run.attrs["overhang_sim_version"] == overhang_sim.__version__


def test_samples_round_up_to_whole_chains(throughput):
    run = simulate(dataclasses.replace(throughput, samples=10, chains=4), seed=1)
    assert dict(run.sizes) == {"chain": 4, "draw": 3}
    assert run.attrs["samples"] == 12


def test_outputs_are_the_model_of_the_inputs(compute):
    run = simulate(compute, seed=2)
    values = {n: run[n].values for n in compute.priors}
    out = compute.model_spec(values)
    for name, value in out.items():
        np.testing.assert_array_equal(run[name].values, np.broadcast_to(value, run[name].shape))


def test_chunk_size_must_be_positive(throughput):
    with pytest.raises(ValueError):
        simulate(throughput, chunk_size=0)


# ---------------------------------------------------------------------------- reproducibility


@settings(max_examples=8)
@given(seeds, methods)
def test_same_seed_same_dataset(throughput, seed, method):
    experiment = dataclasses.replace(throughput, method=method)
    xr.testing.assert_identical(without_times(simulate(experiment, seed=seed)),
                                without_times(simulate(experiment, seed=seed)))


@settings(max_examples=5)
@given(seeds, methods)
def test_seed_argument_equals_seed_in_the_experiment(compute, seed, method):
    experiment = dataclasses.replace(compute, method=method)
    a = simulate(experiment, seed=seed)
    b = simulate(dataclasses.replace(experiment, seed=seed))
    xr.testing.assert_identical(without_times(a), without_times(b))
    assert a.attrs["seed"] == seed


@pytest.mark.parametrize("method", ["mc", "lhs", "sobol"])
def test_different_seeds_and_chains_differ(throughput, method):
    experiment = dataclasses.replace(throughput, method=method)
    a, b = simulate(experiment, seed=1), simulate(experiment, seed=2)
    assert not np.array_equal(a["cluster_gpus"].values, b["cluster_gpus"].values)
    gpus = a["cluster_gpus"].values
    assert len({tuple(row) for row in gpus}) == gpus.shape[0]  # chains are independent streams


# ---------------------------------------------------------------------------- chunk invariance


@pytest.mark.parametrize("correlated_inputs", [False, True], ids=["independent", "copula"])
@pytest.mark.parametrize("method", ["mc", "lhs", "sobol"])
@settings(max_examples=3)
@given(seed=seeds)
def test_results_do_not_depend_on_chunk_size(throughput, correlated, method, correlated_inputs, seed):
    experiment = dataclasses.replace(correlated if correlated_inputs else throughput,
                                     method=method, samples=3000, chains=2)
    runs = [without_times(simulate(experiment, seed=seed, chunk_size=c)) for c in (7, 1000, 2**18)]
    for other in runs[1:]:
        xr.testing.assert_identical(runs[0], other)


def test_compute_path_does_not_depend_on_chunk_size(compute):
    experiment = dataclasses.replace(compute, samples=2000, chains=2)
    xr.testing.assert_identical(without_times(simulate(experiment, seed=3, chunk_size=7)),
                                without_times(simulate(experiment, seed=3, chunk_size=2**18)))


# ---------------------------------------------------------------------------- stable streams


@settings(max_examples=5)
@given(seeds)
def test_unrelated_input_leaves_other_draws_unchanged(folder, seed):
    base = _load(folder, "base.toml", THROUGHPUT_PRIORS, samples=200, chains=2)
    more = _load(folder, "more.toml", {**THROUGHPUT_PRIORS, "fast_stream_tokens_per_s": lognormal(100.0, 1000.0),
                                       "tokens_per_task": lognormal(3.7e5, 1.8e7)}, samples=200, chains=2)
    a, b = simulate(base, seed=seed), simulate(more, seed=seed)
    for name in (*THROUGHPUT_PRIORS, "instances", "cluster_tokens_per_s"):
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


def test_unrelated_input_leaves_correlated_draws_unchanged(folder):
    base = _load(folder, "base_c.toml", THROUGHPUT_PRIORS, samples=500, chains=2, correlations=CORRELATION)
    # "fast_stream..." sorts between cluster_gpus and tokens_per_gpu_s: the copula matrix grows in the middle
    more = _load(folder, "more_c.toml", {**THROUGHPUT_PRIORS, "fast_stream_tokens_per_s": lognormal(100.0, 1000.0)},
                 samples=500, chains=2, correlations=CORRELATION)
    a, b = simulate(base, seed=4), simulate(more, seed=4)
    for name in (*THROUGHPUT_PRIORS, "instances"):
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


# ---------------------------------------------------------------------------- designs through the margins


@pytest.mark.parametrize("method", ["lhs", "sobol"])
def test_stratified_designs_reach_the_inputs(throughput, method):
    """Each chain of LHS (any n) or Sobol' (n = 2**m) has one draw per 1/n of every prior's
    probability scale: cdf(input) puts exactly one draw in each stratum."""
    draws = 256
    run = simulate(dataclasses.replace(throughput, method=method, samples=4 * draws, chains=4), seed=9)
    for name in throughput.sampled:
        u = throughput.priors[name].dist.cdf(run[name].values)
        for chain in u:
            np.testing.assert_array_equal(np.sort(np.floor(chain * draws)), np.arange(draws), err_msg=name)


# ---------------------------------------------------------------------------- copula


def _expected_spearman(rank: float, n: int) -> float:
    """E[sample Spearman] for n draws of a bivariate normal with correlation rho (Moran 1948):
    (6/pi) ((n-2)/(n+1) asin(rho/2) + asin(rho)/(n+1)); with rho = 2 sin(pi r / 6) the limit is r."""
    rho = 2 * math.sin(math.pi * rank / 6)
    return 6 / math.pi * ((n - 2) / (n + 1) * math.asin(rho / 2) + math.asin(rho) / (n + 1))


SPEARMAN_CASES = [("mc", 0.5), ("mc", -0.7), ("lhs", 0.5), ("sobol", -0.7)]


@pytest.mark.parametrize(("method", "rank"), SPEARMAN_CASES)
def test_copula_achieves_the_requested_spearman_correlation(folder, method, rank):
    """Per-chain sample Spearman correlations are independent across 16 chains, so
    (mean - expected) / (sd / 4) is t with 15 dof. With k = t_15 quantile for a two-sided
    family-wise error of 1e-6 over these cases, a false alarm is a one-in-a-million event.
    (For LHS/Sobol' the mean may differ from Moran's MC value by O(1/n) = 2e-4, far below k*se.)"""
    chains, draws = 16, 4096
    correlations = [{"inputs": ["cluster_gpus", "tokens_per_gpu_s"], "rank": rank}]
    experiment = _load(folder, f"spearman_{method}.toml", THROUGHPUT_PRIORS, samples=chains * draws,
                       chains=chains, method=method, correlations=correlations)
    run = simulate(experiment, seed=2024)
    per_chain = np.array([stats.spearmanr(a, b).statistic
                          for a, b in zip(run["cluster_gpus"].values, run["tokens_per_gpu_s"].values)])
    se = per_chain.std(ddof=1) / math.sqrt(chains)
    k = stats.t.ppf(1 - 1e-6 / len(SPEARMAN_CASES) / 2, chains - 1)
    assert abs(per_chain.mean() - _expected_spearman(rank, draws)) <= k * se
    # the test can fail: the per-chain sd is near (1 - r^2) / sqrt(n) ~ 0.01, so k * se < 0.05
    assert k * se < 0.05
    # the other pair stays independent
    other = np.array([stats.spearmanr(a, b).statistic
                      for a, b in zip(run["cluster_gpus"].values, run["required_tokens_per_s"].values)])
    assert abs(other.mean()) <= k * other.std(ddof=1) / math.sqrt(chains)


def test_memory_check_counts_what_the_summary_needs(throughput, monkeypatch):
    """Samples that fit but leave no room for summarize's scratch (one output per thread) are refused."""
    from overhang_sim import ConfigError, simulation
    from overhang_sim.summaries import summary_threads, workspace_bytes

    experiment = dataclasses.replace(throughput, samples=4000)
    samples = simulation.result_bytes(experiment)
    scratch = simulation.summary_bytes(experiment)
    outputs = len(experiment.summary.outputs) or len(experiment.model_spec.outputs)
    values = experiment.chains * experiment.draws
    assert scratch == summary_threads(outputs, values) * workspace_bytes(experiment.chains, experiment.draws) > 0
    monkeypatch.setattr(simulation, "_physical_memory", lambda: samples + scratch)
    simulation.check_memory([experiment])
    monkeypatch.setattr(simulation, "_physical_memory", lambda: samples + scratch - 1)
    with pytest.raises(ConfigError, match="GB more to summarise"):
        simulation.check_memory([experiment])


# ---------------------------------------------------------------------------- threads


@pytest.mark.parametrize("correlated_inputs", [False, True], ids=["independent", "copula"])
@pytest.mark.parametrize("method", ["mc", "lhs", "sobol"])
def test_results_do_not_depend_on_threads(throughput, correlated, compute, method, correlated_inputs):
    """Issue 11: chains drawn on threads write their own rows; any number of threads gives the same bits."""
    for base in (correlated if correlated_inputs else throughput, compute):
        experiment = dataclasses.replace(base, method=method, samples=4000, chains=4)
        alone = without_times(simulate(experiment, seed=5, threads=1, chunk_size=300))
        for threads in (2, 3, 8):
            xr.testing.assert_identical(alone, without_times(simulate(experiment, seed=5, threads=threads)))


def test_threads_must_be_positive(throughput):
    with pytest.raises(ValueError, match="threads"):
        simulate(throughput, threads=0)
