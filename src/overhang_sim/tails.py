"""Heavy-tail diagnostics: the generalized-Pareto shape k̂ of each output's upper tail.

An output's upper tail is fitted by ArviZ's Pareto-smoothed importance sampling
(:func:`arviz.psislw`, Vehtari et al. 2024) with the output's values as the
weights, i.e. ``log_weights = log(x)``: ArviZ takes the largest
``min(n / 5, 3 sqrt(n))`` draws, fits a generalized Pareto distribution to their
excess over the cut-off (Zhang & Stephens 2009, with ArviZ's weak prior towards
k = 0.5) and returns its shape k̂. The tail index means:

- k̂ < 0.5: mean and variance finite; the mean's Monte Carlo error is trustworthy;
- 0.5 <= k̂ < 1: the variance is not finite, so the mean's MCSE is unreliable;
- k̂ >= 1: the mean itself is not finite; no mean should be printed.

The standard error is the asymptotic one of the fitted shape,
``(1 + k) / sqrt(m)`` for ``m`` tail draws (Smith 1987, valid for k > -0.5); the
tests check it against the spread of k̂ over repeated Pareto samples.
Only positive values enter the fit (zeros and negatives are ``log = -inf``, never
in the upper tail); with fewer than 5 positive draws in the tail k̂ is NaN.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["MEAN_NOT_FINITE", "VARIANCE_NOT_FINITE", "tail_draws", "tail_shape", "tail_shape_of_sorted", "tail_statistics", "tail_warning"]

VARIANCE_NOT_FINITE = 0.5
MEAN_NOT_FINITE = 1.0


def tail_draws(n: int) -> int:
    """How many of `n` draws ArviZ's PSIS fits the tail to: ``ceil(min(n / 5, 3 sqrt(n)))``."""
    return int(math.ceil(min(n / 5.0, 3 * math.sqrt(n))))


def tail_shape(x: np.ndarray) -> tuple[float, float]:
    """Generalized-Pareto shape k̂ of the upper tail of the draws `x`, and its standard error.

    Parameters
    ----------
    x : numpy.ndarray
        Draws of one output, any shape (pooled over chains); in the output's unit.

    Returns
    -------
    (float, float)
        k̂ (dimensionless; NaN when the tail has fewer than 5 positive draws or the
        draws are all equal) and its asymptotic standard error ``(1 + k̂) / sqrt(m)``.

    Examples
    --------
    >>> from scipy import stats
    >>> x = stats.genpareto(c=0.7).rvs(size=20_000, random_state=1)
    >>> k, se = tail_shape(x)
    >>> abs(k - 0.7) < 3 * se
    True
    """
    return tail_shape_of_sorted(np.sort(np.ravel(np.asarray(x, dtype=float))))


def tail_shape_of_sorted(ordered: np.ndarray) -> tuple[float, float]:
    """:func:`tail_shape` of draws already sorted ascending (NaN last, as :func:`numpy.sort` puts it).

    Reads only the largest ``tail_draws(n) + 1`` values, so a summary that has sorted an
    output anyway pays nothing more; the arithmetic is ``arviz.psislw``'s on those values
    (the tests check the two agree), without importing ArviZ (about 1.3 s).
    """
    n = int(np.searchsorted(ordered, np.nan, "left"))  # the draws that are not NaN
    m = min(tail_draws(n), n - int(np.searchsorted(ordered[:n], 0.0, "right")))  # the tail holds positive draws
    if m < 5 or n < tail_draws(n) + 1 or not math.isfinite(ordered[n - 1]):
        return math.nan, math.nan
    top = ordered[n - tail_draws(n) - 1:n]
    with np.errstate(divide="ignore"):
        logs = np.log(np.where(top > 0, top, 0.0))
    logs -= logs[-1]  # as psislw: the largest log weight is 0
    cutoff = max(logs[0], np.log(np.finfo(float).tiny))
    tail = logs[logs > cutoff]
    if tail.size <= 4:
        return math.nan, math.nan
    k = _gpd_shape(np.exp(tail) - np.exp(cutoff))
    if not math.isfinite(k):
        return math.nan, math.nan
    return k, (1 + k) / math.sqrt(m)


def _gpd_shape(excess: np.ndarray) -> float:
    """Shape of a generalized Pareto fitted to sorted positive `excess`: Zhang & Stephens (2009)
    empirical Bayes, with ArviZ's weak prior towards k = 0.5 (``arviz.stats.stats._gpdfit``)."""
    n = excess.size
    m_est = 30 + int(n ** 0.5)
    b = 1 - np.sqrt(m_est / (np.arange(1, m_est + 1, dtype=float) - 0.5))
    b /= 3 * excess[int(n / 4 + 0.5) - 1]
    b += 1 / excess[-1]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        k = np.array([np.log1p(-each * excess).mean() for each in b])  # a row at a time: no (m_est, n) array
        profile = n * (np.log(-(b / k)) - k - 1)
        weights = 1 / np.exp(profile - profile[:, None]).sum(axis=1)
    keep = weights >= 10 * np.finfo(float).eps
    if not np.all(keep):
        weights, b = weights[keep], b[keep]
    weights /= weights.sum()
    b_post = np.sum(b * weights)
    k_post = np.log1p(-b_post * excess).mean()
    return float((n * k_post + 10 * 0.5) / (n + 10))


def tail_statistics(x: np.ndarray, ordered: np.ndarray | None = None) -> dict:
    """``tail_shape`` and ``tail_shape_se`` of one output, labelled for the summary Dataset
    (from its values sorted, `ordered`, when the caller has them)."""
    k, se = tail_shape(x) if ordered is None else tail_shape_of_sorted(ordered)
    return {"tail_shape": ((), k), "tail_shape_se": ((), se)}


def tail_warning(name: str, k: float) -> str | None:
    """One line warning about `name`'s upper tail for shape `k`, or None when its mean can be trusted."""
    if not math.isfinite(k) or k < VARIANCE_NOT_FINITE:
        return None
    if k >= MEAN_NOT_FINITE:
        return (f"warning: {name} has a very heavy upper tail (Pareto k̂ = {k:.2f} >= 1): its mean is not "
                "finite, so no mean is shown; quantiles are fine")
    return (f"warning: {name} has a heavy upper tail (Pareto k̂ = {k:.2f} >= 0.5): its variance is not "
            "finite, so the mean's Monte Carlo error is unreliable; quantiles are fine")
