"""Priors from quantiles: metalog fits, least-squares fits of named families, and their errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from overhang_sim import distributions as d
from overhang_sim.cli import main
from overhang_sim.config import load_priors, parse_distribution
from overhang_sim.elicitation import fit_family, quantile_table
from overhang_sim.metalog import Metalog, metalog_basis
from overhang_sim.errors import PriorError

PROBS = np.array([0.1, 0.5, 0.9])


def write(tmp_path, text, name="priors.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- metalog


@pytest.mark.parametrize(("bounds", "values"), [({}, (1.0, 3.0, 6.0)), ({"lower": 0.0}, (2e4, 8e4, 5e5)),
                                                 ({"upper": 1e6}, (2e5, 6e5, 8e5)),
                                                 ({"lower": 0.0, "upper": 1e6}, (2e4, 8e4, 5e5))])
def test_metalog_through_as_many_quantiles_as_terms_is_exact(bounds, values):
    m = Metalog(tuple(PROBS), values, **bounds)
    np.testing.assert_allclose(m.ppf(PROBS), values, rtol=1e-12)
    np.testing.assert_allclose(m.cdf(np.array(values)), PROBS, atol=1e-12)
    low, high = m.support()
    draws = m.ppf(np.linspace(1e-9, 1 - 1e-9, 10_001))
    assert np.all(np.diff(draws) >= 0) and low <= draws.min() and draws.max() <= high


@given(st.lists(st.floats(-3, 3), min_size=2, max_size=7, unique=True))
def test_metalog_reproduces_feasible_quantiles_exactly(zs):
    """Quantiles of a normal (any 2-7 of them): the n-term metalog through them reproduces them."""
    probs = tuple(float(p) for p in stats.norm.cdf(sorted(zs)))
    probs = tuple(sorted(set(probs)))
    if len(probs) < 2 or min(np.diff(probs), default=1) < 1e-3:
        return
    values = tuple(10 + 3 * stats.norm.ppf(probs))
    try:
        m = Metalog(probs, values)
    except PriorError:  # a metalog through normal quantiles can bend back in a tail; that is reported
        return
    np.testing.assert_allclose(m.ppf(np.array(probs)), values, rtol=1e-9, atol=1e-9)


def test_two_terms_is_the_logistic():
    m = Metalog((0.25, 0.75), (-1.0, 1.0))
    logistic = stats.logistic(scale=1 / math.log(3))
    u = np.linspace(0.01, 0.99, 99)
    np.testing.assert_allclose(m.ppf(u), logistic.ppf(u), atol=1e-12)
    assert m.expectation() == pytest.approx(0.0, abs=1e-8)


def test_fewer_terms_is_least_squares():
    probs, values = (0.05, 0.25, 0.5, 0.75, 0.95), (1.0, 2.0, 3.5, 4.0, 6.0)
    m = Metalog(probs, values, terms=3)
    basis = metalog_basis(np.array(probs), 3)
    expected = np.linalg.lstsq(basis, np.array(values), rcond=None)[0]
    np.testing.assert_allclose(m.coefficients, expected)


def test_log_metalog_of_lognormal_quantiles_is_that_lognormal():
    """Through a lognormal's p05, p50 and p95 the log-metalog has its median and a finite mean."""
    ln = d.LogNormal(p05=2e4, p95=2e5)
    probs = (0.05, 0.5, 0.95)
    m = Metalog(probs, tuple(ln.ppf(np.array(probs))), lower=0.0)
    assert float(m.ppf(np.array([0.5]))[0]) == pytest.approx(float(ln.ppf(np.array([0.5]))[0]), rel=1e-12)
    assert math.isfinite(m.expectation())


def test_heavy_log_metalog_has_no_mean():
    m = Metalog((0.1, 0.5, 0.9), (1.0, 10.0, 1e4), lower=0.0)  # log-slope > 1 in the upper tail
    assert m.expectation() == math.inf


def test_infeasible_metalog_is_a_prior_error_with_a_hint():
    with pytest.raises(PriorError, match="terms = 2 fits them"):
        Metalog((0.1, 0.2, 0.5, 0.9), (1.0, 10.0, 11.0, 12.0))


def test_infeasible_metalog_in_a_file_is_one_line_naming_file_and_key(tmp_path, capsys):
    path = write(tmp_path, '[x]\nquantiles = {"0.1" = 1, "0.2" = 10, "0.5" = 11, "0.9" = 12}\nunit = "1"\n')
    with pytest.raises(PriorError) as caught:
        load_priors(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: x.quantiles: no 4-term metalog") and "\n" not in message


@pytest.mark.parametrize(("text", "key", "words"), [
    ('quantiles = {"0.1" = 5, "0.9" = 1}', "x.quantiles", "increase"),
    ('quantiles = {"1.5" = 5, "0.9" = 1}', "x.quantiles.1.5", "between 0 and 1"),
    ('quantiles = {"ten" = 5}', "x.quantiles.ten", "probabilities"),
    ('quantiles = {"0.5" = 5}', "x.quantiles", "at least 2"),
    ('p10 = 1\np90 = "a"', "x.p90", "finite number"),
    ('quantiles = {"0.1" = 1, "0.9" = 3}\np10 = 2', "x.p10", "second time"),
    ('quantiles = {"0.1" = 1, "0.9" = 3}\nterms = 3', "x.terms", "whole number from 2 to 2"),
    ('quantiles = {"0.1" = 1, "0.9" = 3}\nlower = 2', "x.lower", "inside the bounds"),
    ('dist = "empirical"\nquantiles = {"0.1" = 1, "0.9" = 3}', "x.dist", "cannot be fitted"),
    ('quantiles = {"0.1" = 1, "0.9" = 3}\nsd = 3', "x.sd", "unknown key"),
])
def test_bad_quantile_tables_name_the_key(tmp_path, text, key, words):
    path = write(tmp_path, f'[x]\n{text}\nunit = "1"\n')
    with pytest.raises((PriorError, ValueError)) as caught:
        load_priors(path)
    assert str(caught.value).startswith(f"{path}: {key}: ") and words in str(caught.value)


def test_p_keys_without_dist_are_a_metalog_and_prior_keeps_what_was_asked(tmp_path):
    path = write(tmp_path, '[x]\np10 = 2e4\np50 = 8e4\np90 = 5e5\nlower = 0\nunit = "GPU"\n')
    prior = load_priors(path)["x"]
    assert isinstance(prior.dist, Metalog) and prior.dist.support() == (0.0, math.inf)
    assert prior.asked == ((0.1, 2e4), (0.5, 8e4), (0.9, 5e5))


def test_plain_lognormal_is_untouched(tmp_path):
    prior = load_priors(write(tmp_path, '[x]\ndist = "lognormal"\np05 = 1\np95 = 10\nunit = "1"\n'))["x"]
    assert prior.dist == d.LogNormal(p05=1, p95=10) and prior.asked == ()


# --------------------------------------------------------------------------- named families


def test_least_squares_lognormal_recovers_its_parameters():
    ln = d.LogNormal(p05=2e4, p95=2e5)
    probs = np.array([0.1, 0.25, 0.5, 0.75, 0.9])
    fit = fit_family("lognormal", list(zip(probs, ln.ppf(probs))))
    assert fit.p05 == pytest.approx(2e4, rel=1e-8) and fit.p95 == pytest.approx(2e5, rel=1e-8)


def test_lognormal_from_p10_p50_p90_keys(tmp_path):
    ln = d.LogNormal(p05=3.0, p95=300.0)
    p10, p50, p90 = (float(v) for v in ln.ppf(PROBS))
    prior = load_priors(write(tmp_path, f'[x]\ndist = "lognormal"\np10 = {p10!r}\np50 = {p50!r}\np90 = {p90!r}\n'
                                        'unit = "1"\n'))["x"]
    assert prior.dist.p05 == pytest.approx(3.0, rel=1e-8) and prior.dist.p95 == pytest.approx(300.0, rel=1e-8)


@pytest.mark.parametrize("dist", [d.Normal(mean=3.0, sd=2.0), d.Uniform(low=1.0, high=3.0),
                                  d.LogUniform(low=1.0, high=300.0), d.Beta(alpha=2.0, beta=5.0),
                                  d.Pert(low=1.0, mode=3.0, high=10.0)])
def test_least_squares_recovers_each_family(dist):
    probs = np.array([0.05, 0.25, 0.5, 0.75, 0.95])
    fit = fit_family(dist.family_name, list(zip(probs, dist.ppf(probs))))
    np.testing.assert_allclose(fit.ppf(probs), dist.ppf(probs), rtol=1e-6)


def test_truncated_fit_matches_the_truncated_quantiles():
    target = d.Truncated(d.Normal(mean=0.5, sd=0.3), 0.0, 1.0)
    probs = np.array([0.1, 0.5, 0.9])
    fit = fit_family("normal", list(zip(probs, target.ppf(probs))), {"lower": 0.0, "upper": 1.0})
    np.testing.assert_allclose(fit.ppf(probs), target.ppf(probs), rtol=1e-6)


def test_quantile_table_flags_a_poor_fit():
    pairs = ((0.1, 1000.0), (0.5, 2000.0), (0.9, 8000.0))  # too skewed for a lognormal
    rows = quantile_table(pairs, fit_family("lognormal", pairs), tolerance=0.02)
    assert all(r["off"] for r in rows)
    exact = quantile_table(pairs, Metalog(*zip(*pairs), lower=0.0), tolerance=1e-9)
    assert not any(r["off"] for r in exact)


def test_parse_distribution_in_a_mixture():
    dist = parse_distribution({"dist": "mixture", "weights": [0.5, 0.5], "components": [
        {"quantiles": {"0.1": 1.0, "0.9": 3.0}}, {"dist": "normal", "mean": 10.0, "sd": 1.0}]})
    assert np.all(np.isfinite(dist.ppf(np.array([0.1, 0.5, 0.9]))))


def test_priors_command_shows_asked_and_fitted_and_warns(tmp_path, capsys):
    write(tmp_path, '[cluster_gpus]\nquantiles = {"0.1" = 2e4, "0.5" = 8e4, "0.9" = 5e5}\nlower = 0\n'
                    'unit = "GPU"\n\n[tokens_per_gpu_s]\ndist = "lognormal"\np10 = 1000\np50 = 2000\np90 = 8000\n'
                    'unit = "token/s/GPU"\n\n[required_tokens_per_s]\nvalue = 40\nunit = "token/s"\n')
    experiment = write(tmp_path, 'name = "e"\nmodel = "throughput"\npriors = ["priors.toml"]\nsamples = 400\n',
                       name="e.toml")
    assert main(["priors", str(experiment)]) == 0
    out, err = capsys.readouterr()
    assert "asked" in out and "fitted" in out and out.count("<- off") == 3
    assert err.count("\n") == 1 and "tokens_per_gpu_s" in err and "p10, p50, p90" in err
