"""The experiments ``benchmarks/peer_speed.py`` writes load and run, and match its squigglepy side.

CI's smoke step runs only the compute model of that benchmark (each model costs four
processes), so the throughput model's experiment text is checked here: each model's
median of ``instances`` from a run equals the median its squigglepy script computes from
the same priors (lognormal 5 %/95 % points, PERT, log-uniform), evaluated here in closed
form: the throughput model is a product of lognormals, so log(instances) is normal with the
summed means and variances.
"""

from __future__ import annotations

import importlib.util
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from overhang_sim import simulate, summarize
from overhang_sim.config import experiment_from_table

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "peer_speed.py"
SAMPLES = 40_000


def _peer_speed():
    spec = importlib.util.spec_from_file_location("peer_speed", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(name):
    peer = _peer_speed()
    text = peer.experiment_text(name).replace("samples = 1000", f"samples = {SAMPLES}")
    experiment = experiment_from_table(tomllib.loads(text), text, f"{name}.toml")
    return summarize(simulate(experiment), experiment.summary)


@pytest.mark.parametrize("name", ["throughput", "compute"])
def test_each_peer_speed_experiment_runs(name):
    summary = _run(name)
    median = float(summary["quantile"].sel(output="instances", scale="log10", prob=0.5))
    assert math.isfinite(median) and 4 < median < 9


def test_the_throughput_experiment_is_the_product_of_its_three_lognormals():
    """log10 instances ~ N(sum of mu, sum of sigma^2) for gpus * per_gpu / required: each quantile
    within 4 of its Monte Carlo standard errors (8 chains, so a t with 7 degrees of freedom: about
    0.5 % two-sided; the seed is fixed, so the test is deterministic)."""
    z = stats.norm.ppf(0.95)
    points = [(5e4, 1e6, 1), (300, 1.1e4, 1), (5, 50, -1)]
    mu = sum(sign * 0.5 * (math.log10(a) + math.log10(b)) for a, b, sign in points)
    sigma = math.sqrt(sum(((math.log10(b) - math.log10(a)) / (2 * z)) ** 2 for a, b, _ in points))
    summary = _run("throughput").sel(output="instances", scale="log10")
    for p in (0.05, 0.5, 0.95):
        got = float(summary["quantile"].sel(prob=p))
        mcse = float(summary["quantile_mcse"].sel(prob=p))
        assert abs(got - (mu + sigma * stats.norm.ppf(p))) <= 4 * mcse, p
    assert np.isfinite(float(summary["mean"]))
