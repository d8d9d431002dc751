"""Sampling designs: one protocol (random(n) -> (n, d) in [0, 1)), chunk invariance,
stratification, stable per-name streams, and the Gaussian copula's algebra."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import seeds

from overhang_sim.designs import (
    METHODS,
    LatinHypercube,
    MonteCarlo,
    ScrambledSobol,
    gaussian_copula,
    make_design,
    pearson_from_spearman,
    stable_key,
)

NAMES = ["cluster_gpus", "required_tokens_per_s", "tokens_per_gpu_s"]


def _design(method, names=NAMES, total=256, seed=1):
    return make_design(method, list(names), total, np.random.SeedSequence(seed, spawn_key=(0,)))


@pytest.mark.parametrize("method", METHODS)
def test_design_protocol(method):
    points = _design(method).random(256)
    assert points.shape == (256, 3)
    assert np.all((points >= 0) & (points < 1))


def test_make_design_classes_and_unknown_method():
    assert isinstance(_design("mc"), MonteCarlo)
    assert isinstance(_design("lhs"), LatinHypercube)
    assert isinstance(_design("sobol"), ScrambledSobol)
    with pytest.raises(ValueError):
        _design("halton")


@settings(max_examples=25)
@given(st.sampled_from(METHODS), seeds, st.lists(st.integers(1, 100), min_size=1, max_size=6))
def test_chunked_draws_equal_one_draw(method, seed, sizes):
    total = sum(sizes)
    whole = _design(method, total=total, seed=seed).random(total)
    design = _design(method, total=total, seed=seed)
    chunked = np.concatenate([design.random(n) for n in sizes])
    np.testing.assert_array_equal(chunked, whole)


@pytest.mark.parametrize("method", ["lhs", "sobol"])
@pytest.mark.parametrize("n", [64, 1024])
def test_one_point_per_stratum_in_each_dimension(method, n):
    """LHS by construction; an Owen-scrambled Sobol' net of 2**m points likewise puts
    exactly one point in each of the 2**m equal intervals of every coordinate."""
    points = _design(method, total=n).random(n)
    for column in points.T:
        np.testing.assert_array_equal(np.sort(np.floor(column * n)), np.arange(n))


@settings(max_examples=20)
@given(seeds)
def test_mc_streams_are_keyed_by_name(seed):
    """Adding an input, or reordering them, leaves each named column unchanged."""
    base = _design("mc", ["a", "b"], seed=seed).random(50)
    more = _design("mc", ["c", "b", "zz", "a"], seed=seed).random(50)
    np.testing.assert_array_equal(base[:, 0], more[:, 3])
    np.testing.assert_array_equal(base[:, 1], more[:, 1])


def test_streams_differ_between_names_chains_and_seeds():
    a = _design("mc", ["a", "b"], seed=1).random(20)
    assert not np.array_equal(a[:, 0], a[:, 1])
    other_chain = make_design("mc", ["a", "b"], 20, np.random.SeedSequence(1, spawn_key=(1,))).random(20)
    assert not np.array_equal(a, other_chain)
    assert not np.array_equal(a, _design("mc", ["a", "b"], seed=2).random(20))


def test_stable_key_is_crc32():
    assert stable_key("cluster_gpus") == stable_key("cluster_gpus")
    assert stable_key("a") == 3904355907  # zlib.crc32(b"a"): the same on every machine


@pytest.mark.parametrize(("rank", "pearson"), [(0.0, 0.0), (1.0, 1.0), (-1.0, -1.0), (0.5, 2 * math.sin(math.pi / 12))])
def test_pearson_from_spearman_known_values(rank, pearson):
    assert float(pearson_from_spearman(rank)) == pytest.approx(pearson, rel=1e-15, abs=1e-15)


@settings(max_examples=100)
@given(st.floats(-0.999, 0.999))
def test_pearson_from_spearman_inverts_the_normal_rank_correlation(rank):
    """For a bivariate normal with correlation rho, Spearman's rho_s = (6/pi) asin(rho/2)."""
    rho = pearson_from_spearman(rank)
    assert abs(rho) <= 1
    assert 6 / math.pi * math.asin(rho / 2) == pytest.approx(rank, abs=1e-14)


def test_copula_with_identity_keeps_the_uniforms():
    """ndtr(ndtri(u)) == u up to a few ulp of u; u in [1e-6, 1 - 1e-6] keeps that below 1e-15."""
    u = np.random.default_rng(3).uniform(1e-6, 1 - 1e-6, size=(1000, 3))
    np.testing.assert_allclose(gaussian_copula(u, np.eye(3)), u, rtol=0, atol=1e-15)


def test_copula_keeps_each_first_margin_and_mixes_the_second():
    u = np.random.default_rng(4).uniform(1e-6, 1 - 1e-6, size=(1000, 2))
    rho = 0.6
    chol = np.linalg.cholesky(np.array([[1.0, rho], [rho, 1.0]]))
    v = gaussian_copula(u, chol)
    np.testing.assert_allclose(v[:, 0], u[:, 0], rtol=0, atol=1e-15)  # first row of L is (1, 0)
    from scipy import special

    expected = special.ndtr(rho * special.ndtri(u[:, 0]) + math.sqrt(1 - rho**2) * special.ndtri(u[:, 1]))
    np.testing.assert_allclose(v[:, 1], expected, rtol=1e-13, atol=1e-16)


def test_a_sobol_chain_read_in_order_is_never_fast_forwarded(monkeypatch):
    """Issue 11: each chunk rebuilt its engine and fast-forwarded it: O(draws^2 / chunk)."""
    from scipy.stats import qmc

    from overhang_sim.designs import ScrambledSobol

    calls = []
    original = qmc.Sobol.fast_forward
    monkeypatch.setattr(qmc.Sobol, "fast_forward", lambda self, n: calls.append(n) or original(self, n))
    design = ScrambledSobol(3, np.random.SeedSequence(7))
    chunks = [design.points(start, start + 256) for start in range(0, 4096, 256)]
    assert calls == []  # continued, never rebuilt
    whole = ScrambledSobol(3, np.random.SeedSequence(7)).points(0, 4096)
    np.testing.assert_array_equal(np.concatenate(chunks), whole)
    np.testing.assert_array_equal(design.points(1024, 1280), whole[1024:1280])  # a jump still works
    assert calls == [1024]


def test_sobol_balance_is_warned_about_not_silenced(make_experiment):
    import warnings

    from strategies import THROUGHPUT_PRIORS

    from overhang_sim import simulate
    from overhang_sim.errors import DesignWarning

    with pytest.warns(DesignWarning, match="12 draws per chain is not a power of two.*8 or 16 per chain"):
        simulate(make_experiment(THROUGHPUT_PRIORS, samples=48, chains=4, method="sobol"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DesignWarning)
        simulate(make_experiment(THROUGHPUT_PRIORS, samples=64, chains=4, method="sobol"))
