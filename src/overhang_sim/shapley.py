"""Shapley effects: variance shares that add up when inputs are correlated.

The Shapley effect of input i (Owen 2014; Song, Nelson & Staum 2016) is its
average contribution to the cost ``c(J) = E[Var(Y | X_{-J})]`` over the orders in
which inputs can be added::

    Sh_i = sum over J not containing i of  |J|! (d - |J| - 1)! / d!  [c(J + i) - c(J)]

with ``c(empty) = 0`` and ``c(all) = Var(Y)``, so the effects add up to Var(Y) (the
shares to 1) whatever the dependence; with independent inputs and no interactions
they equal the first-order indices. Inputs are dependent through the Gaussian copula
of the experiment's ``[[correlations]]``: with normal scores Z ~ N(0, R) and
``X_j = F_j^{-1}(Phi(Z_j))``, the scores of J given those of the rest are Gaussian,
so ``Var(Y | X_{-J})`` is sampled exactly (Song et al.'s two-level scheme): an outer
draw of ``X_{-J}``, `inner` draws of ``X_J`` given it, and the unbiased variance of
Y over the inner draws.

With d <= :data:`MAX_EXACT` inputs every subset's cost is estimated (exact
permutations); beyond that, random permutations (Song et al.'s algorithm 1 with
one outer draw per prefix, grouped by prefix set). Intervals are percentile
bootstraps over the independent outer draws (exact) or permutations (random),
each bootstrap share normalised by its own Var(Y), so they are intervals of shares.

Model evaluations: ``total + (2**d - 2) * outer * inner`` (exact) or
``total + permutations * (d - 1) * inner`` (random).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
from scipy import special

__all__ = ["INNER", "MAX_EXACT", "ShapleyEffects", "conditional_scores", "shapley_effects", "shapley_weights"]

MAX_EXACT = 8  # up to this many inputs every subset is estimated (2**8 - 2 = 254 subsets)
INNER = 3  # inner draws per outer draw (Song et al. 2016 recommend 3)
BOOTSTRAP = 500


class ShapleyEffects(NamedTuple):
    """Shapley effects of d inputs on m outputs.

    Attributes
    ----------
    share : ndarray, shape (d, m)
        Shapley effects over Var(Y); each column sums to 1.
    lower, upper : ndarray, shape (d, m)
        Percentile bootstrap interval of each share.
    variance : ndarray, shape (m,)
        The estimate of Var(Y) the shares are of (in the output's scale, squared).
    model_runs : int
        Rows the model was evaluated on.
    exact : bool
        True when every subset was estimated (exact permutations).
    """

    share: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    variance: np.ndarray
    model_runs: int
    exact: bool


def _sqrtm(matrix: np.ndarray) -> np.ndarray:
    """A square root S with S S^T = matrix, for a PSD matrix that may be singular."""
    w, v = np.linalg.eigh((matrix + matrix.T) / 2)
    return v * np.sqrt(np.clip(w, 0.0, None))


def conditional_scores(correlation: np.ndarray, inner_set: np.ndarray, outer: int, inner: int,
                       rng: np.random.Generator) -> np.ndarray:
    """Normal scores where `inner` draws of Z_J share each of `outer` draws of the rest.

    Parameters
    ----------
    correlation : ndarray, shape (d, d)
        Correlation matrix R of the normal scores.
    inner_set : ndarray of bool, shape (d,)
        J: the scores redrawn given the others.
    outer, inner : int
    rng : numpy.random.Generator

    Returns
    -------
    ndarray, shape (outer, inner, d)
        ``Z_{-J} ~ N(0, R_KK)`` constant along axis 1, ``Z_J | Z_{-J}`` the Gaussian conditional.
    """
    J, K = inner_set, ~inner_set
    r_jj, r_jk, r_kk = correlation[np.ix_(J, J)], correlation[np.ix_(J, K)], correlation[np.ix_(K, K)]
    z = np.empty((outer, inner, len(correlation)))
    zk = rng.standard_normal((outer, int(K.sum()))) @ _sqrtm(r_kk).T
    gain = np.linalg.lstsq(r_kk, r_jk.T, rcond=None)[0].T if K.any() else np.zeros((int(J.sum()), 0))
    spread = _sqrtm(r_jj - gain @ r_jk.T)
    z[..., K] = zk[:, None, :]
    z[..., J] = (zk @ gain.T)[:, None, :] + rng.standard_normal((outer, inner, int(J.sum()))) @ spread.T
    return z


def shapley_weights(d: int) -> np.ndarray:
    """Matrix W, shape (d, 2**d), with Sh = W @ c over subset costs c indexed by bitmask."""
    w = np.zeros((d, 2**d))
    for i in range(d):
        for mask in range(2**d):
            if not mask >> i & 1:
                s = mask.bit_count()
                weight = math.factorial(s) * math.factorial(d - s - 1) / math.factorial(d)
                w[i, mask | 1 << i] += weight
                w[i, mask] -= weight
    return w


def _mask(bits: int, d: int) -> np.ndarray:
    return np.array([bits >> j & 1 for j in range(d)], dtype=bool)


def _inner_variances(model, correlation, masks: dict[int, int], inner, rng) -> dict[int, np.ndarray]:
    """For each subset bitmask, `count` unbiased inner variances of Y: {mask: (count, m)}."""
    d = len(correlation)
    out = {}
    for bits, count in masks.items():
        z = conditional_scores(correlation, _mask(bits, d), count, inner, rng)
        y = model(z.reshape(-1, d)).reshape(count, inner, -1)
        out[bits] = y.var(axis=1, ddof=1)
    return out


def _percentile(replicates: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    tail = 100 * (1 - confidence) / 2
    return np.percentile(replicates, tail, axis=0), np.percentile(replicates, 100 - tail, axis=0)


def _exact(model, correlation, outer, inner, y_total, confidence, rng):
    d = len(correlation)
    full = 2**d - 1
    v = _inner_variances(model, correlation, {bits: outer for bits in range(1, full)}, inner, rng)
    weights = shapley_weights(d)

    def shares(costs, variance):
        costs = costs.copy()
        costs[full] = variance
        return weights @ costs / variance

    m = y_total.shape[1]
    costs = np.zeros((2**d, m))
    for bits, values in v.items():
        costs[bits] = values.mean(axis=0)
    variance = y_total.var(axis=0, ddof=1)
    boot_costs = np.zeros((BOOTSTRAP, 2**d, m))
    for bits, values in v.items():  # each subset's outer draws resampled on their own: they are independent
        boot_costs[:, bits] = _resampled_means(values, rng)
    boot_variance = _resampled_variances(y_total, rng)
    boot = np.stack([shares(c, var) for c, var in zip(boot_costs, boot_variance)])
    return shares(costs, variance), *_percentile(boot, confidence), variance, (full - 1) * outer * inner


def _counts(n: int, rng) -> np.ndarray:
    """How often each of `n` units is drawn in each of BOOTSTRAP resamples: shape (BOOTSTRAP, n)."""
    picks = rng.integers(0, n, (BOOTSTRAP, n)) + n * np.arange(BOOTSTRAP)[:, None]
    return np.bincount(picks.ravel(), minlength=BOOTSTRAP * n).reshape(BOOTSTRAP, n).astype(float)


def _resampled_means(values: np.ndarray, rng) -> np.ndarray:
    """Bootstrap means of the rows of `values` (n, k): shape (BOOTSTRAP, k), one matrix product."""
    return _counts(len(values), rng) @ values / len(values)


def _resampled_variances(y: np.ndarray, rng) -> np.ndarray:
    """Bootstrap unbiased variances of the columns of `y` (n, m): shape (BOOTSTRAP, m)."""
    w, n = _counts(len(y), rng), len(y)
    mean = w @ y / n
    return (w @ y**2 / n - mean**2) * n / (n - 1)


def _random(model, correlation, permutations, inner, y_total, confidence, rng):
    d = len(correlation)
    orders = np.array([rng.permutation(d) for _ in range(permutations)])
    prefix = np.cumsum(1 << orders, axis=1)[:, :-1]  # bitmask of the first j+1 inputs, j < d - 1
    counts = dict(zip(*np.unique(prefix, return_counts=True)))
    v = _inner_variances(model, correlation, {int(b): int(n) for b, n in counts.items()}, inner, rng)
    m = y_total.shape[1]
    cost = np.empty((permutations, d - 1, m))
    taken = {bits: 0 for bits in v}
    for p, j in np.ndindex(permutations, d - 1):
        bits = int(prefix[p, j])
        cost[p, j] = v[bits][taken[bits]]
        taken[bits] += 1
    step = np.diff(cost, axis=1, prepend=0.0)  # c(P_j) - c(P_{j-1}) for j < d; the last step is V - c(P_{d-1})
    rows = np.arange(permutations)[:, None]
    partial = np.zeros((permutations, d, m))  # each permutation's contributions without Var(Y)
    partial[rows, orders[:, :-1]] = step
    partial[np.arange(permutations), orders[:, -1]] = -cost[:, -1]
    last = np.zeros((permutations, d))
    last[np.arange(permutations), orders[:, -1]] = 1.0

    variance = y_total.var(axis=0, ddof=1)
    estimate = (partial.mean(axis=0) + last.mean(axis=0)[:, None] * variance) / variance
    w = _counts(permutations, rng)  # permutations resampled, each with its own outer and inner draws
    boot_partial = (w @ partial.reshape(permutations, -1) / permutations).reshape(BOOTSTRAP, d, m)
    boot_last = w @ last / permutations
    boot_variance = _resampled_variances(y_total, rng)[:, None, :]
    boot = (boot_partial + boot_last[:, :, None] * boot_variance) / boot_variance
    return estimate, *_percentile(boot, confidence), variance, permutations * (d - 1) * inner


def shapley_effects(evaluate: Callable[[np.ndarray], np.ndarray], ppfs: Sequence[Callable],
                    correlation: np.ndarray | None = None, *, runs: int, inner: int = INNER,
                    exact: bool | None = None, confidence: float = 0.95,
                    transform: Callable[[np.ndarray], np.ndarray] | None = None,
                    rng: np.random.Generator | int | None = None) -> ShapleyEffects:
    """Shapley effects of d inputs on the m outputs of `evaluate`, with bootstrap intervals.

    Parameters
    ----------
    evaluate : callable
        ``(n, d)`` inputs -> ``(n, m)`` outputs, vectorised.
    ppfs : sequence of callable
        The inverse CDF of each input's margin.
    correlation : ndarray, shape (d, d), optional
        Correlation of the normal scores (the Gaussian copula); identity if None.
    runs : int
        Model evaluations to spend, about: an eighth on Var(Y), the rest on the
        conditional variances.
    inner : int
        Inner draws per outer draw.
    exact : bool, optional
        Estimate every subset (default: when d <= :data:`MAX_EXACT`) or sample permutations.
    confidence : float
        Mass of the bootstrap intervals.
    transform : callable, optional
        Applied to the outputs before the variances (``np.log10`` for orders of magnitude).
    rng : numpy.random.Generator or seed

    Returns
    -------
    ShapleyEffects
    """
    rng = np.random.default_rng(rng)
    d = len(ppfs)
    correlation = np.eye(d) if correlation is None else np.asarray(correlation, dtype=float)
    exact = d <= MAX_EXACT if exact is None else exact
    transform = transform or (lambda y: y)

    def model(z):
        u = special.ndtr(z)
        x = np.column_stack([ppf(u[:, j]) for j, ppf in enumerate(ppfs)])
        with np.errstate(divide="ignore", invalid="ignore"):
            return transform(np.asarray(evaluate(x), dtype=float).reshape(len(x), -1))

    total = max(runs // 8, 100)
    y_total = model(conditional_scores(correlation, np.ones(d, bool), 1, total, rng)[0])
    rest = max(runs - total, 0)
    if exact:
        outer = max(rest // ((2**d - 2) * inner), 2)
        found = _exact(model, correlation, outer, inner, y_total, confidence, rng)
    else:
        permutations = max(rest // ((d - 1) * inner), 2)
        found = _random(model, correlation, permutations, inner, y_total, confidence, rng)
    share, lower, upper, variance, conditional_runs = found
    return ShapleyEffects(share, lower, upper, variance, total + conditional_runs, exact)
