"""Shapley effects with correlated inputs: known answers from Gaussian conditioning.

Linear model Y = sum_i beta_i X_i with X ~ N(0, Sigma): the cost of a set J is
c(J) = E[Var(Y | X_-J)] = beta_J^T (Sigma_JJ - Sigma_JK Sigma_KK^-1 Sigma_KJ) beta_J
exactly (K the other inputs), and the Shapley effect is the average of
c(P + i) - c(P) over the d! orders (computed here by enumerating them, independently
of the estimator's subset weights). For d = 2, beta = (1, 2), unit variances and
correlation rho: V = 5 + 4 rho, Sh_1 = (2 + 4 rho + 3 rho^2) / 2 and
Sh_2 = (8 + 4 rho - 3 rho^2) / 2.

Tolerances: the package's bootstrap intervals, widened to 4 standard errors (the
half-width over z_0.975), so a correct estimator fails about once in 15,000 checks.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from scipy import stats

from overhang_sim import load_experiment
from overhang_sim.cli import main
from overhang_sim.sensitivity_analysis import sensitivity
from overhang_sim.shapley import shapley_effects, shapley_weights

Z = stats.norm.ppf(0.975)


def linear_shapley(beta, sigma):
    """Exact Shapley effects of Y = beta . X, X ~ N(0, sigma), by enumerating permutations."""
    d = len(beta)

    def cost(subset):
        J = list(subset)
        K = [k for k in range(d) if k not in J]
        if not J:
            return 0.0
        c = sigma[np.ix_(J, J)]
        if K:
            c = c - sigma[np.ix_(J, K)] @ np.linalg.solve(sigma[np.ix_(K, K)], sigma[np.ix_(K, J)])
        return float(beta[J] @ c @ beta[J])

    effects = np.zeros(d)
    orders = list(itertools.permutations(range(d)))
    for order in orders:
        for j in range(d):
            effects[order[j]] += (cost(order[: j + 1]) - cost(order[:j])) / len(orders)
    return effects


def _estimate(beta, sd, corr, *, exact, runs=120_000, seed=1):
    ppfs = [lambda u, s=s: stats.norm.ppf(u) * s for s in sd]
    return shapley_effects(lambda x: x @ beta, ppfs, corr, runs=runs, exact=exact, rng=seed)


def _assert_within(found, truth):
    se = (found.upper - found.lower)[:, 0] / (2 * Z)
    assert np.all(se > 0)
    np.testing.assert_array_less(np.abs(found.share[:, 0] - truth), 4 * se)


def test_two_inputs_match_the_closed_form():
    for rho in (-0.5, 0.0, 0.7):
        corr = np.array([[1.0, rho], [rho, 1.0]])
        truth = np.array([2 + 4 * rho + 3 * rho**2, 8 + 4 * rho - 3 * rho**2]) / 2 / (5 + 4 * rho)
        np.testing.assert_allclose(linear_shapley(np.array([1.0, 2.0]), corr) / (5 + 4 * rho), truth)
        _assert_within(_estimate(np.array([1.0, 2.0]), [1.0, 1.0], corr, exact=True), truth)


@pytest.mark.parametrize("exact", [True, False])
def test_three_correlated_inputs_match_gaussian_conditioning(exact):
    beta, sd = np.array([1.0, 2.0, 0.5]), np.array([1.0, 0.7, 2.0])
    corr = np.array([[1.0, 0.6, -0.3], [0.6, 1.0, 0.2], [-0.3, 0.2, 1.0]])
    sigma = corr * np.outer(sd, sd)
    truth = linear_shapley(beta, sigma) / (beta @ sigma @ beta)
    found = _estimate(beta, sd, corr, exact=exact)
    assert found.exact is exact
    _assert_within(found, truth)
    np.testing.assert_allclose(found.share.sum(axis=0), 1.0, rtol=1e-12)  # they add up, by construction
    assert found.variance[0] == pytest.approx(beta @ sigma @ beta, rel=0.05)


def test_independent_inputs_give_the_variance_shares():
    beta, sd = np.array([1.0, -1.0, 3.0, 0.2]), np.array([1.0, 2.0, 0.5, 1.0])
    truth = (beta * sd) ** 2 / np.sum((beta * sd) ** 2)
    _assert_within(_estimate(beta, sd, None, exact=False), truth)


def test_subset_weights_sum_to_the_telescoping_identity():
    for d in (2, 3, 5):
        w = shapley_weights(d)
        np.testing.assert_allclose(w.sum(axis=0)[-1], 1.0)  # Var(Y) counted once in all
        np.testing.assert_allclose(w.sum(axis=0)[1:-1], 0.0, atol=1e-12)  # every other cost cancels
        np.testing.assert_allclose(w.sum(axis=0)[0], -1.0)  # c(empty) = 0: its weight never matters


def test_same_seed_same_effects():
    a = _estimate(np.array([1.0, 2.0]), [1.0, 1.0], np.eye(2), exact=True, runs=5000, seed=3)
    b = _estimate(np.array([1.0, 2.0]), [1.0, 1.0], np.eye(2), exact=True, runs=5000, seed=3)
    np.testing.assert_array_equal(a.share, b.share)
    np.testing.assert_array_equal(a.lower, b.lower)


def test_sensitivity_with_correlations_gives_shares_that_add_up(capsys):
    experiment = load_experiment("experiments/baseline.toml")
    assert experiment.correlations
    result = sensitivity(experiment, methods=["shapley"], shapley_samples=20_000, seed=2)
    share = result["estimate"].sel(measure="shapley")
    np.testing.assert_allclose(share.sum("input").values, 1.0, rtol=1e-9)
    assert result.attrs["shapley_model_runs"] >= 20_000
    assert main(["sensitivity", "experiments/baseline.toml", "--method", "shapley", "--shapley-samples", "20000",
                 "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed
