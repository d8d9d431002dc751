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

__all__ = ["MEAN_NOT_FINITE", "VARIANCE_NOT_FINITE", "tail_draws", "tail_shape", "tail_shape_of_sorted", "tail_shapes_of_sorted", "tail_statistics", "tail_warning"]

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
    k, se = tail_shapes_of_sorted(np.asarray(ordered, dtype=float)[None])
    return float(k[0]), float(se[0])


def _excess(row: np.ndarray) -> tuple[np.ndarray, int] | None:
    """The tail excesses psislw fits of one sorted row and its tail draws m, or None when k̂ is NaN."""
    n = int(np.searchsorted(row, np.nan, "left"))  # the draws that are not NaN
    m = min(tail_draws(n), n - int(np.searchsorted(row[:n], 0.0, "right")))  # the tail holds positive draws
    if m < 5 or n < tail_draws(n) + 1 or not math.isfinite(row[n - 1]):
        return None
    top = row[n - tail_draws(n) - 1:n]
    with np.errstate(divide="ignore"):
        logs = np.log(np.where(top > 0, top, 0.0))
    logs -= logs[-1]  # as psislw: the largest log weight is 0
    cutoff = max(logs[0], np.log(np.finfo(float).tiny))
    tail = logs[logs > cutoff]
    return (np.exp(tail) - np.exp(cutoff), m) if tail.size > 4 else None


def tail_shapes_of_sorted(ordered: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`tail_shape_of_sorted` of each row of `ordered` ``(..., n)``, sorted along its last axis.

    Returns k̂ and its standard error, each of shape ``ordered.shape[:-1]``. Rows whose tails
    have the same number of excesses are fitted together (:func:`_gpd_shapes`), with the
    arithmetic of one row at a time, so the numbers are those of each row on its own.
    """
    rows = ordered.reshape(-1, ordered.shape[-1])
    k, se = np.full(rows.shape[0], np.nan), np.full(rows.shape[0], np.nan)
    alike: dict[int, list] = {}  # excess count -> [(row, m, excess)]
    for r, row in enumerate(rows):
        if (found := _excess(row)) is not None:
            alike.setdefault(found[0].size, []).append((r, found[1], found[0]))
    for group in alike.values():
        shapes = _gpd_shapes(np.stack([x for _, _, x in group]))
        for (r, m, _), shape in zip(group, shapes):
            if math.isfinite(shape):
                k[r], se[r] = shape, (1 + shape) / math.sqrt(m)
    return k.reshape(ordered.shape[:-1]), se.reshape(ordered.shape[:-1])


GPD_VALUES = 2**17  # values of log1p(-b x) formed at once by _gpd_shapes (a row of b at a time above)


def _log1p_means(b: np.ndarray, excess: np.ndarray) -> np.ndarray:
    """``log1p(-b[r, j] * excess[r]).mean()`` for every row r and grid point j, (rows, grid)."""
    rows, grid = b.shape
    n = excess.shape[1]
    if grid * n > GPD_VALUES:  # a row at a time: no (grid, n) array
        return np.array([[np.log1p(-each * x).mean() for each in row] for row, x in zip(b, excess)])
    at_once = max(1, GPD_VALUES // (grid * n))
    return np.concatenate([np.log1p(-b[i:i + at_once, :, None] * excess[i:i + at_once, None, :]).mean(axis=-1)
                           for i in range(0, rows, at_once)])


def _gpd_shapes(excess: np.ndarray) -> np.ndarray:
    """Shapes of generalized Paretos fitted to each row of sorted positive `excess` ``(rows, n)``: Zhang &
    Stephens (2009) empirical Bayes, with ArviZ's weak prior towards k = 0.5 (``arviz.stats.stats._gpdfit``)."""
    rows, n = excess.shape
    m_est = 30 + int(n ** 0.5)
    b = 1 - np.sqrt(m_est / (np.arange(1, m_est + 1, dtype=float) - 0.5))
    b = b / (3 * excess[:, int(n / 4 + 0.5) - 1:int(n / 4 + 0.5)])
    b += 1 / excess[:, -1:]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        k = _log1p_means(b, excess)
        profile = n * (np.log(-(b / k)) - k - 1)
        weights = 1 / np.exp(profile[:, None, :] - profile[:, :, None]).sum(axis=-1)
    return np.array([_posterior_shape(w, grid, x) for w, grid, x in zip(weights, b, excess)])


def _posterior_shape(weights: np.ndarray, b: np.ndarray, excess: np.ndarray) -> float:
    """One row's shape from its grid `b` and their `weights` (each row drops its own negligible points)."""
    keep = weights >= 10 * np.finfo(float).eps
    if not np.all(keep):
        weights, b = weights[keep], b[keep]
    weights = weights / weights.sum()
    b_post = np.sum(b * weights)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        k_post = np.log1p(-b_post * excess).mean()
    return float((len(excess) * k_post + 10 * 0.5) / (len(excess) + 10))


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
